package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// message i of a stream seeded by seed: random size in [1, max], bytes
// derived from (seed, i) so the receiver can check every byte.
func message(seed uint64, i, maxSize int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	n := 1 + r.IntN(maxSize)
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// exchange sends n messages each way concurrently and checks that every
// message arrives once, in order, intact.
func exchange(t *testing.T, p *pair, n, maxSize int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual time
	defer cancel()
	errs := make(chan error, 4)
	send := func(s *session.Session, seed uint64) {
		for i := range n {
			if err := s.SendMessage(ctx, message(seed, i, maxSize)); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}
	recv := func(s *session.Session, seed uint64) {
		for i := range n {
			got, err := s.ReceiveMessage(ctx)
			if err != nil {
				errs <- err
				return
			}
			if want := message(seed, i, maxSize); !bytes.Equal(got, want) {
				errs <- errors.New("message " + string(rune('0'+i%10)) + " differs: " + hashOf(got) + " != " + hashOf(want))
				return
			}
		}
		errs <- nil
	}
	go send(p.a, 1)
	go send(p.b, 2)
	go recv(p.b, 1)
	go recv(p.a, 2)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return string(rune(len(b))) + string(h[:4])
}

// quiesce waits (in virtual time) until both sides have nothing in flight,
// then checks invariant 1: the flight is 0 and the tracker released exactly
// the bytes it registered.
func quiesce(t *testing.T, p *pair) {
	t.Helper()
	for range 600 { // at most 60 s of virtual time
		if p.a.FlightSize().Load() == 0 && p.b.FlightSize().Load() == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond) // virtual time inside the bubble
	}
	for _, s := range []*session.Session{p.a, p.b} {
		st := s.Tracker().Stats()
		if got := s.FlightSize().Load(); got != 0 {
			t.Errorf("FlightSize %d at quiescence, want 0 (tracker %+v)", got, st)
		}
		if st.SentBytes() != st.ReleasedBytes() {
			t.Errorf("tracker sent %d bytes, released %d", st.SentBytes(), st.ReleasedBytes())
		}
	}
}

func TestMessagesClean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, pairConfig{ab: netem.Config{Delay: 5 * time.Millisecond}, ba: netem.Config{Delay: 5 * time.Millisecond}})
		defer p.stop()
		exchange(t, p, 500, 20000)
		quiesce(t, p)
		st := p.a.Stats()
		if st.Retransmits != 0 || st.Lost != 0 {
			t.Errorf("clean path: %d retransmits, %d lost, %d PTOs, spurious %d", st.Retransmits, st.Lost, st.PTOs, st.Tracker.Spurious)
		}
		if st.RTT < 10*time.Millisecond || st.RTT > 15*time.Millisecond {
			t.Errorf("smoothed RTT %v on a 10 ms path", st.RTT)
		}
	})
}

func TestMessagesLossy(t *testing.T) {
	imp := netem.Config{Loss: 0.05, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, JitterReorders: true, Duplicate: 0.02, Seed: 7}
	imp2 := imp
	imp2.Seed = 8
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, pairConfig{ab: imp, ba: imp2})
		defer p.stop()
		exchange(t, p, 300, 40000)
		quiesce(t, p)
		st := p.a.Stats()
		if st.Retransmits == 0 {
			t.Errorf("5%% loss and no retransmission: %+v", st)
		}
		if p.b.Stats().DropsReplay == 0 {
			t.Errorf("2%% duplication and no duplicate dropped")
		}
		t.Logf("A: sent %d pkts, %d retransmits, %d lost, %d PTOs, rtt %v, cwnd %d", st.PacketsSent, st.Retransmits, st.Lost, st.PTOs, st.RTT, st.Cwnd)
	})
}

func TestCorruptionRejected(t *testing.T) {
	imp := netem.Config{Corrupt: 0.05, Delay: 5 * time.Millisecond, Seed: 3}
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, pairConfig{ab: imp, ba: imp})
		defer p.stop()
		exchange(t, p, 200, 5000)
		quiesce(t, p)
		if d := p.b.Stats().DropsAEAD + p.b.Stats().DropsBadHeader; d == 0 {
			t.Errorf("5%% corruption and nothing rejected")
		}
	})
}

func TestPeerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := make(chan error, 1)
		p := newPair(t, pairConfig{onCloseB: func(err error) { closed <- err }})
		defer p.stop()
		exchange(t, p, 10, 100)
		p.a.Close()
		err := <-closed
		var pc *session.PeerClosedError
		if !errors.As(err, &pc) {
			t.Fatalf("B ended with %v, want a PeerClosedError", err)
		}
		if _, err := p.b.ReceiveMessage(context.Background()); !errors.As(err, &pc) {
			t.Fatalf("ReceiveMessage after the peer closed: %v", err)
		}
		if err := p.a.SendMessage(context.Background(), []byte("x")); !errors.Is(err, session.ErrClosed) {
			t.Fatalf("SendMessage after Close: %v", err)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closedA := make(chan error, 1)
		cut := netem.Config{Loss: 1}
		p := newPair(t, pairConfig{ab: cut, ba: cut, onCloseA: func(err error) { closedA <- err },
			cfgA: session.Config{IdleTimeout: 5 * time.Second}})
		defer p.stop()
		start := time.Now()
		if err := <-closedA; !errors.Is(err, session.ErrIdleTimeout) {
			t.Fatalf("A ended with %v", err)
		}
		if d := time.Since(start); d < 5*time.Second || d > 5*time.Second+10*time.Millisecond {
			t.Errorf("idle timeout after %v, want 5 s", d)
		}
	})
}

func TestKeepaliveHoldsIdleSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, pairConfig{cfgA: session.Config{IdleTimeout: 3 * time.Second}, cfgB: session.Config{IdleTimeout: 3 * time.Second}})
		defer p.stop()
		time.Sleep(30 * time.Second) // virtual: ten idle timeouts
		if !p.a.IsAlive() || !p.b.IsAlive() {
			t.Fatalf("keepalives did not hold the session: A %v, B %v", p.a.Err(), p.b.Err())
		}
	})
}
