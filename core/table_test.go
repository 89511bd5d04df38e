package core_test

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/ring"
	"go.uber.org/goleak"
)

func TestTableLookups(t *testing.T) {
	tab := core.NewTable(keyN(0), 0)
	v4 := netip.MustParseAddrPort("192.0.2.7:4000")
	mapped := netip.MustParseAddrPort("[::ffff:192.0.2.7]:4000")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:4000")
	zoned := netip.MustParseAddrPort("[fe80::1%eth0]:4000")

	p1, created := tab.LoadOrCreate(keyN(1), mapped)
	if !created {
		t.Fatal("first LoadOrCreate did not create")
	}
	if again, created := tab.LoadOrCreate(keyN(1), v6); created || again != p1 {
		t.Fatal("second LoadOrCreate created a new record")
	}
	p2, _ := tab.LoadOrCreate(keyN(2), v6)
	p3, _ := tab.LoadOrCreate(keyN(3), zoned)

	tests := []struct {
		name string
		addr netip.AddrPort
		want *core.Peer
	}{
		{"ipv4", v4, p1},
		{"ipv4-mapped ipv6 finds the ipv4 peer", mapped, p1},
		{"ipv6", v6, p2},
		{"zone is not part of the key", netip.MustParseAddrPort("[fe80::1%eth1]:4000"), p3},
		{"other port", netip.MustParseAddrPort("192.0.2.7:4001"), nil},
		{"unknown", netip.MustParseAddrPort("198.51.100.1:4000"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tab.LoadByAddr(tc.addr)
			if ok != (tc.want != nil) || got != tc.want {
				t.Fatalf("LoadByAddr(%v) = %p, %v; want %p", tc.addr, got, ok, tc.want)
			}
		})
	}
	if got := p1.Addr(); got != v4 {
		t.Fatalf("p1.Addr() = %v, want normalised %v", got, v4)
	}
	if got := p3.Addr(); got != netip.MustParseAddrPort("[fe80::1]:4000") {
		t.Fatalf("p3.Addr() = %v, want zone dropped", got)
	}
	if p, ok := tab.Load(keyN(2)); !ok || p != p2 || p.Key() != keyN(2) {
		t.Fatal("Load by key failed")
	}
	p2.SetLocation(ring.Location(42))
	if p2.Location() != 42 {
		t.Fatal("Location not stored")
	}
	if tab.Len() != 3 {
		t.Fatalf("Len = %d, want 3", tab.Len())
	}
}

func TestTableSetAddrMovesIndex(t *testing.T) {
	tab := core.NewTable(keyN(0), 0)
	a, b := addrN(1), addrN(2)
	p, _ := tab.LoadOrCreate(keyN(1), a)
	q, _ := tab.LoadOrCreate(keyN(2), netip.AddrPort{})

	if !tab.SetAddr(p, b) {
		t.Fatal("SetAddr on a live record reported false")
	}
	if _, ok := tab.LoadByAddr(a); ok {
		t.Fatal("old address still indexed after the move")
	}
	if got, _ := tab.LoadByAddr(b); got != p || p.Addr() != b {
		t.Fatal("new address not indexed")
	}

	// q claims p's address: the address belongs to the last claimer, and p
	// loses it rather than keep pointing at q's address.
	tab.SetAddr(q, b)
	if got, _ := tab.LoadByAddr(b); got != q {
		t.Fatal("claimed address not moved to q")
	}
	if p.Addr().IsValid() {
		t.Fatalf("displaced peer kept address %v", p.Addr())
	}
	// p moving elsewhere must not retire q's entry.
	tab.SetAddr(p, a)
	if got, _ := tab.LoadByAddr(b); got != q {
		t.Fatal("p's move retired q's address entry")
	}

	if !tab.Forget(q) || !q.Forgotten() {
		t.Fatal("Forget failed")
	}
	if _, ok := tab.LoadByAddr(b); ok {
		t.Fatal("forgotten peer still indexed by address")
	}
	if tab.SetAddr(q, b) {
		t.Fatal("SetAddr on a forgotten record reported true")
	}
	if _, ok := tab.LoadByAddr(b); ok {
		t.Fatal("SetAddr on a forgotten record indexed it")
	}
}

// TestTableAddrIndexConsistentUnderChurn races address changes, claims of
// the same addresses by several peers, and forgets, then checks the index
// invariant at quiescence: byAddr[a] == p iff p is in the table with
// p.Addr() == a. A naive index (delete old, then insert new, without the
// per-key lock and the compare-and-delete) leaves entries pointing at peers
// that moved away or were forgotten.
func TestTableAddrIndexConsistentUnderChurn(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const peers, addrs, workers, ops = 16, 8, 4, 2000
	tab := core.NewTable(keyN(0), 0)
	for i := range peers {
		tab.LoadOrCreate(keyN(uint64(i+1)), addrN(uint32(i%addrs)))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range ops {
				k := keyN(uint64(r.IntN(peers) + 1))
				switch r.IntN(10) {
				case 0:
					if p, ok := tab.Load(k); ok {
						tab.Forget(p)
					}
				case 1:
					tab.LoadOrCreate(k, addrN(uint32(r.IntN(addrs))))
				default:
					if p, ok := tab.Load(k); ok {
						tab.SetAddr(p, addrN(uint32(r.IntN(addrs))))
					}
				}
			}
		}()
	}
	wg.Wait()

	for i := range addrs {
		a := addrN(uint32(i))
		p, ok := tab.LoadByAddr(a)
		if !ok {
			continue
		}
		if p.Forgotten() {
			t.Fatalf("index entry %v points at a forgotten peer", a)
		}
		if p.Addr() != a {
			t.Fatalf("index entry %v points at a peer whose address is %v", a, p.Addr())
		}
		if cur, _ := tab.Load(p.Key()); cur != p {
			t.Fatalf("index entry %v points at a record not in the table", a)
		}
	}
	tab.Range(func(p *core.Peer) bool {
		if a := p.Addr(); a.IsValid() {
			if got, _ := tab.LoadByAddr(a); got != p {
				t.Errorf("peer %v has address %v but the index maps it to %p", p.Key(), a, got)
			}
		}
		return true
	})
}

// TestHotPathAllocatesNothing is the zero-allocation promise of the receive
// path: lookup by key, lookup by address, Touch, Addr.
func TestHotPathAllocatesNothing(t *testing.T) {
	tab := core.NewTable(keyN(0), 1024)
	for i := range 1000 {
		tab.LoadOrCreate(keyN(uint64(i+1)), addrN(uint32(i)))
	}
	k, a := keyN(500), addrN(499)
	p, _ := tab.Load(k)
	now := monotime.Time(12345)
	tests := []struct {
		name string
		f    func()
	}{
		{"Load", func() { _, _ = tab.Load(k) }},
		{"LoadByAddr", func() { _, _ = tab.LoadByAddr(a) }},
		{"Touch", func() { p.Touch(now) }},
		{"LoadByAddr+Touch", func() {
			if q, ok := tab.LoadByAddr(a); ok {
				q.Touch(now)
			}
		}},
		{"Addr", func() { _ = p.Addr() }},
		{"Session", func() { _ = p.Session() }},
		{"CountIn", func() { p.CountIn(1200) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
				t.Fatalf("%s allocates %v per call", tc.name, n)
			}
		})
	}
	if p.LastSeen() != now {
		t.Fatal("Touch did not store last-seen")
	}
}

// TestTableAddrClaimDoesNotClearAReclaim is the ABA of address displacement:
// p claims address a from q while q moves away from a and back. If p clears
// q's address after publishing byAddr[a] = p but outside the index entry's
// lock, the clear can land after q's re-claim (byAddr[a] = q again) and wipe
// q's new address, leaving byAddr[a] = q with q.Addr() invalid: the receive
// path then finds q by an address q no longer has, and q is unreachable by
// the address it does have. The displacement must be atomic with the index
// entry it displaces. Bounded in rounds and time; each round is checked at
// quiescence.
func TestTableAddrClaimDoesNotClearAReclaim(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tab := core.NewTable(keyN(0), 0)
	a, b, c := addrN(1), addrN(2), addrN(3)
	p, _ := tab.LoadOrCreate(keyN(1), c)
	q, _ := tab.LoadOrCreate(keyN(2), a)
	more := bounded(20000, 3*time.Second)
	for round := 0; more(round); round++ {
		tab.SetAddr(p, c)
		tab.SetAddr(q, a)
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); <-start; tab.SetAddr(p, a) }()
		go func() { defer wg.Done(); <-start; tab.SetAddr(q, b); tab.SetAddr(q, a) }()
		close(start)
		wg.Wait()

		owner, ok := tab.LoadByAddr(a)
		if !ok {
			t.Fatalf("round %d: address %v claimed by both, indexed for neither", round, a)
		}
		if owner.Addr() != a {
			t.Fatalf("round %d: index maps %v to %v, whose address is %v", round, a, owner.Key(), owner.Addr())
		}
		for _, x := range []*core.Peer{p, q} {
			if x != owner && x.Addr() == a {
				t.Fatalf("round %d: %v and %v both hold %v", round, x.Key(), owner.Key(), a)
			}
		}
	}
}

// TestTouchGranularity pins Touch's contract: the first touch stores, a
// touch less than TouchGranularity after last-seen stores nothing, one at
// least that much later stores, and an older time never moves last-seen
// backwards.
func TestTouchGranularity(t *testing.T) {
	const g = core.TouchGranularity
	base := monotime.Time(12345)
	tests := []struct {
		name    string
		touches []monotime.Time
		want    monotime.Time
	}{
		{"first touch stores, even near zero", []monotime.Time{base}, base},
		{"within granularity is skipped", []monotime.Time{base, base.Add(g - 1)}, base},
		{"at granularity stores", []monotime.Time{base, base.Add(g)}, base.Add(g)},
		{"past granularity stores", []monotime.Time{base, base.Add(3 * g)}, base.Add(3 * g)},
		{"older time does not go back", []monotime.Time{base.Add(5 * g), base}, base.Add(5 * g)},
		{"lag stays under granularity", []monotime.Time{base, base.Add(g / 2), base.Add(g), base.Add(g + g/2)}, base.Add(g)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := core.NewTable(keyN(1<<40), 0)
			p, _ := tab.LoadOrCreate(keyN(1), addrN(1))
			for _, at := range tc.touches {
				p.Touch(at)
			}
			if got := p.LastSeen(); got != tc.want {
				t.Fatalf("LastSeen = %d, want %d", got, tc.want)
			}
			last := tc.touches[len(tc.touches)-1]
			if got := p.LastSeen(); last.Sub(got) >= g {
				t.Fatalf("LastSeen %d lags the last touch %d by %v >= %v", got, last, last.Sub(got), g)
			}
		})
	}
}
