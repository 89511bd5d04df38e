package secure

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// exchange sends one packet each way, so that each side has opened a
// packet of the other's current generation.
func exchange(t *testing.T, c, s *Protector, cpn, spn *uint64, now monotime.Time) {
	t.Helper()
	pkt, ph, plain := testPacket(t, c, *cpn, 30, now)
	deliver(t, s, pkt, *cpn, ph, plain, now)
	*cpn++
	pkt, ph, plain = testPacket(t, s, *spn, 30, now)
	deliver(t, c, pkt, *spn, ph, plain, now)
	*spn++
}

func sendGen(p *Protector) uint64 { return p.send.Load().gen }

func TestKeyUpdateSenderLeadsReceiverFollows(t *testing.T) {
	for _, a := range testAEADs {
		t.Run(a.name, func(t *testing.T) {
			c, s := protectPair(t, a.alg, ProtectorConfig{})
			var cpn, spn uint64
			if err := c.UpdateKeys(1); !errors.Is(err, ErrKeyUpdateNotAllowed) {
				t.Fatalf("update before any answer: %v", err)
			}
			exchange(t, c, s, &cpn, &spn, 1)
			for round := uint64(1); round <= 3; round++ {
				if err := c.UpdateKeys(1); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if err := c.UpdateKeys(1); !errors.Is(err, ErrKeyUpdateNotAllowed) {
					t.Fatalf("round %d: second update before the peer answered: %v", round, err)
				}
				pkt, ph, plain := testPacket(t, c, cpn, 30, 1)
				if ph != (round&1 == 1) {
					t.Fatalf("round %d: phase %v", round, ph)
				}
				deliver(t, s, pkt, cpn, ph, plain, 1)
				cpn++
				if got := s.KeyUpdates(); got != round || sendGen(s) != round || s.cur.gen != round {
					t.Fatalf("round %d: peer updates %d, send gen %d, recv gen %d", round, got, sendGen(s), s.cur.gen)
				}
				pkt, ph, plain = testPacket(t, s, spn, 30, 1)
				deliver(t, c, pkt, spn, ph, plain, 1)
				spn++
				if c.KeyUpdates() != round || c.cur.gen != round {
					t.Fatalf("round %d: initiator updates %d, recv gen %d", round, c.KeyUpdates(), c.cur.gen)
				}
			}
		})
	}
}

func TestKeyUpdateReorderingAcrossPhaseChange(t *testing.T) {
	const life = 3 * time.Second
	c, s := protectPair(t, AES128GCM, ProtectorConfig{PreviousKeyLifetime: life})
	var cpn, spn uint64
	exchange(t, c, s, &cpn, &spn, 1) // client pn 0
	type held struct {
		pkt   []byte
		pn    uint64
		ph    bool
		plain []byte
	}
	var old []held
	for range 3 { // pn 1..3 in phase 0, delayed in the network
		pkt, ph, plain := testPacket(t, c, cpn, 40, 1)
		old = append(old, held{pkt, cpn, ph, plain})
		cpn++
	}
	if err := c.UpdateKeys(1); err != nil {
		t.Fatal(err)
	}
	pkt, ph, plain := testPacket(t, c, cpn, 40, 2)
	deliver(t, s, pkt, cpn, ph, plain, 2) // switch at t=2
	cpn++
	if s.prev.aead == nil || s.cur.gen != 1 {
		t.Fatal("receiver did not switch")
	}
	deliver(t, s, old[0].pkt, old[0].pn, old[0].ph, old[0].plain, 2)
	deliver(t, s, old[1].pkt, old[1].pn, old[1].ph, old[1].plain, monotime.Time(2).Add(life-1))
	if got, err := s.Open(old[2].pkt, testHdrLen, old[2].pn, old[2].ph, monotime.Time(2).Add(life)); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("old-phase packet after the lifetime: %q, %v", got, err)
	}
	if s.prev != (openKeys{}) {
		t.Fatal("previous keys not erased after expiry")
	}
	if s.cur.secret != ([32]byte{}) {
		t.Fatal("current receive generation still holds its secret")
	}
	if s.next.secret == ([32]byte{}) || s.next.iv == ([packetNonceLen]byte{}) {
		t.Fatal("next generation lacks its secret or IV")
	}
	if s.failed != 0 {
		t.Fatalf("%d packets counted as forgeries", s.failed)
	}
	// The current phase still works after the expiry.
	pkt, ph, plain = testPacket(t, c, cpn, 40, 10)
	deliver(t, s, pkt, cpn, ph, plain, monotime.Time(2).Add(life))
}

func TestKeyUpdatePacketLimitTriggers(t *testing.T) {
	c, s := protectPair(t, ChaCha20Poly1305, ProtectorConfig{MaxPacketsPerKey: 4})
	var cpn, spn uint64
	exchange(t, c, s, &cpn, &spn, 1)
	for ; cpn < 4; cpn++ {
		pkt, ph, plain := testPacket(t, c, cpn, 10, 1)
		deliver(t, s, pkt, cpn, ph, plain, 1)
	}
	if c.KeyUpdates() != 0 {
		t.Fatal("updated before the limit")
	}
	pkt, ph, plain := testPacket(t, c, cpn, 10, 1) // the fifth packet of generation 0
	if !ph || c.KeyUpdates() != 1 {
		t.Fatalf("limit reached: phase %v, updates %d", ph, c.KeyUpdates())
	}
	deliver(t, s, pkt, cpn, ph, plain, 1)
	cpn++
	// Without an answer in phase 1 the next limit only warns...
	for ; cpn < 9; cpn++ {
		if _, ph, _ := testPacket(t, c, cpn, 10, 1); !ph {
			t.Fatalf("pn %d: phase went back", cpn)
		}
	}
	if c.KeyUpdates() != 1 {
		t.Fatal("updated without the peer's answer")
	}
	// ...until the hard limit, where sealing stops.
	k := c.send.Load()
	k.limit = cpn + 1
	if _, err := c.SealKey(cpn, 1); err != nil {
		t.Fatalf("last packet under the limit: %v", err)
	}
	if _, err := c.SealKey(cpn+1, 1); !errors.Is(err, ErrConfidentialityLimit) {
		t.Fatalf("beyond the confidentiality limit: %v", err)
	}
	// The peer answers in phase 1: the update proceeds at once.
	pkt, ph, plain = testPacket(t, s, spn, 10, 1)
	deliver(t, c, pkt, spn, ph, plain, 1)
	k2, err := c.SealKey(cpn+1, 1)
	if err != nil || k2.gen != 2 || c.KeyUpdates() != 2 {
		t.Fatalf("after the answer: %v, gen %d, updates %d", err, k2.gen, c.KeyUpdates())
	}
}

func TestKeyUpdateIntervalTriggers(t *testing.T) {
	const every = time.Second
	c, s := protectPair(t, AES128GCM, ProtectorConfig{KeyUpdateInterval: every})
	var cpn, spn uint64
	t0 := monotime.Time(100)
	exchange(t, c, s, &cpn, &spn, t0) // generation 0 starts at t0
	k, err := c.SealKey(cpn, t0.Add(every-1))
	if err != nil || k.gen != 0 {
		t.Fatalf("before the interval: gen %d, %v", k.gen, err)
	}
	cpn++
	k, err = c.SealKey(cpn, t0.Add(every))
	if err != nil || k.gen != 1 {
		t.Fatalf("at the interval: gen %d, %v", k.gen, err)
	}
	// Generation 1 began at t0+every; not allowed again until the peer
	// answers, whatever the time.
	cpn++
	if k, _ = c.SealKey(cpn, t0.Add(10*every)); k.gen != 1 {
		t.Fatalf("updated without an answer: gen %d", k.gen)
	}
}

func TestSealKeyKeepsPhasesInPacketNumberOrder(t *testing.T) {
	c, s := protectPair(t, AES128GCM, ProtectorConfig{})
	var cpn, spn uint64
	exchange(t, c, s, &cpn, &spn, 1) // client pn 0
	// Numbers 1..3 were taken, then 10 was reserved by a faster sealer.
	if k, _ := c.SealKey(10, 1); k.gen != 0 {
		t.Fatal("pn 10 not in generation 0")
	}
	if err := c.UpdateKeys(1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pn      uint64
		wantGen uint64
		wantErr error
	}{
		{"taken before the update, below the boundary", 5, 0, nil},
		{"the boundary itself", 10, 0, nil},
		{"above the boundary", 11, 1, nil},
		{"far above", 1000, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := c.SealKey(tt.pn, 1)
			if !errors.Is(err, tt.wantErr) || (err == nil && k.gen != tt.wantGen) {
				t.Fatalf("pn %d: gen %v, %v", tt.pn, k, err)
			}
		})
	}
	// After a second update, generation 0's numbers are stale.
	pkt, ph, plain := testPacket(t, c, 1001, 10, 1)
	deliver(t, s, pkt, 1001, ph, plain, 1)
	pkt, ph, plain = testPacket(t, s, spn, 10, 1)
	deliver(t, c, pkt, spn, ph, plain, 1)
	if err := c.UpdateKeys(1); err != nil {
		t.Fatal(err)
	}
	if k, err := c.SealKey(500, 1); err != nil || k.gen != 1 {
		t.Fatalf("pn 500 after second update: %v, %v", k, err)
	}
	if _, err := c.SealKey(7, 1); !errors.Is(err, ErrStalePacketNumber) {
		t.Fatalf("pn 7 after second update: %v", err)
	}
}

func TestIntegrityLimit(t *testing.T) {
	c, s := protectPair(t, ChaCha20Poly1305, ProtectorConfig{})
	s.integrityLimit = 3
	for pn := range uint64(4) {
		pkt, ph, _ := testPacket(t, c, pn, 10, 1)
		pkt[len(pkt)-1] ^= 1
		_, err := s.Open(pkt, testHdrLen, pn, ph, 1)
		want := ErrOpen
		if pn == 3 {
			want = ErrIntegrityLimit
		}
		if !errors.Is(err, want) {
			t.Fatalf("forgery %d: %v, want %v", pn+1, err, want)
		}
	}
	pkt, ph, _ := testPacket(t, c, 4, 10, 1)
	if _, err := s.Open(pkt, testHdrLen, 4, ph, 1); !errors.Is(err, ErrIntegrityLimit) {
		t.Fatalf("valid packet after the limit: %v", err)
	}
}

func TestCloseErasesKeys(t *testing.T) {
	c, s := protectPair(t, AES128GCM, ProtectorConfig{})
	var cpn, spn uint64
	exchange(t, c, s, &cpn, &spn, 1)
	if err := c.UpdateKeys(1); err != nil {
		t.Fatal(err)
	}
	pkt, ph, plain := testPacket(t, c, cpn, 10, 1)
	deliver(t, s, pkt, cpn, ph, plain, 1) // s now holds prev, cur, next
	s.Close()
	if s.prev != (openKeys{}) || s.cur != (openKeys{}) || s.next != (openKeys{}) || s.sendSecret != ([32]byte{}) {
		t.Fatal("Close left key material")
	}
}

// TestConcurrentSealersDuringUpdates seals from several goroutines while
// the packet limit forces updates and the receive path, running at the
// same time, opens the peer's answers. Every packet must open unless its
// generation is older than the receiver's previous one, which proves that
// phases stay in packet-number order.
func TestConcurrentSealersDuringUpdates(t *testing.T) {
	const (
		sealers   = 4
		perSealer = 400
	)
	c, s := protectPair(t, AES128GCM, ProtectorConfig{MaxPacketsPerKey: 32, PreviousKeyLifetime: time.Hour})
	var cpn, spn uint64
	exchange(t, c, s, &cpn, &spn, 1)

	type wire struct {
		pkt   []byte
		pn    uint64
		gen   uint64
		phase bool
	}
	ch := make(chan wire, 64)
	var next, stale atomic.Uint64
	next.Store(cpn)
	var wg sync.WaitGroup
	for range sealers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perSealer {
				pn := next.Add(1) - 1
				k, err := c.SealKey(pn, 1)
				for errors.Is(err, ErrStalePacketNumber) {
					// This sealer stalled between taking its number and
					// sealing while others went through two updates: the
					// documented answer is a new number.
					stale.Add(1)
					pn = next.Add(1) - 1
					k, err = c.SealKey(pn, 1)
				}
				if err != nil {
					t.Errorf("SealKey(%d): %v", pn, err)
					return
				}
				pkt := make([]byte, testHdrLen+50, testHdrLen+50+SealOverhead)
				pkt[testHdrLen] = byte(pn)
				ch <- wire{k.Seal(pkt, testHdrLen, pn), pn, k.gen, k.Phase()}
			}
		}()
	}
	go func() { wg.Wait(); close(ch) }()

	opened, lost := 0, 0
	for w := range ch {
		payload, err := s.Open(w.pkt, testHdrLen, w.pn, w.phase, 1)
		switch {
		case err == nil:
			if payload[0] != byte(w.pn) {
				t.Fatalf("pn %d: wrong payload", w.pn)
			}
			opened++
		case w.gen+1 < s.cur.gen:
			lost++ // older than the previous generation: legitimately gone
		default:
			t.Fatalf("pn %d of generation %d failed at receive generation %d: %v", w.pn, w.gen, s.cur.gen, err)
		}
		// The server answers each packet; the client's receive path runs
		// concurrently with its sealers.
		ans, ph, plain := testPacket(t, s, spn, 8, 1)
		deliver(t, c, ans, spn, ph, plain, 1)
		spn++
	}
	if c.KeyUpdates() < 5 {
		t.Fatalf("only %d key updates in %d packets", c.KeyUpdates(), opened+lost)
	}
	t.Logf("%d opened, %d too old, %d updates", opened, lost, c.KeyUpdates())
}
