package core_test

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"github.com/petrel-transport/petrel/internal/monotime"
	"go.uber.org/goleak"
)

// hookClock is a core.Clock that runs a hook inside Now. The Node reads its
// clock at fixed points of its pipelines, so a hook that waits for another
// goroutine there pins that goroutine's work into an exact window of the
// caller's pipeline: a deterministic interleaving, no luck needed.
type hookClock struct {
	base core.Clock
	hook atomic.Pointer[func()]
}

func (c *hookClock) Now() monotime.Time {
	if h := c.hook.Load(); h != nil {
		(*h)()
	}
	return c.base.Now()
}

// TestInstallDoesNotCancelARacingRemoversRedial is race (b) of the
// armTimers fix (de402ee), made deterministic: a persistent peer's incoming
// session is installed, and a remover takes it out of the slot and arms the
// supervised redial in the window between the installer's registry CAS and
// the installer's own timer arming (the hook clock holds the installer at its
// first clock read after the CAS until the remover has finished). An
// installer that then cancels the retry timer for "its" session without
// re-checking the slot drops the redial the remover just armed: the peer
// stays disconnected for good. With armTimers the installer sees the empty
// slot and keeps the redial scheduled.
func TestInstallDoesNotCancelARacingRemoversRedial(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	removers := []struct {
		name   string
		remove func(n *core.Node, key core.PeerKey, s core.Session)
	}{
		{"RemoveIfMatches", func(n *core.Node, key core.PeerKey, s core.Session) { n.RemoveIfMatches(key, s) }},
		{"Disconnect", func(n *core.Node, key core.PeerKey, _ core.Session) { _, _ = n.Disconnect(key) }},
	}
	for _, rm := range removers {
		t.Run(rm.name, func(t *testing.T) {
			var clk *hookClock
			var attempts atomic.Int32
			tn := newTestNode(t, keyN(1), func(c *core.Config) {
				clk = &hookClock{base: c.Clock}
				c.Clock = clk
				c.OnConnect, c.OnDisconnect = nil, nil
				c.OnReconnectAttempt = func(*core.Peer, int) { attempts.Add(1) }
				c.Dialer = refuseDials
			})
			defer func() {
				if err := tn.Close(); err != nil {
					t.Error(err)
				}
			}()
			peer := keyN(2)
			p, err := tn.AddPeer(peer, netip.AddrPort{}, true)
			if err != nil {
				t.Fatal(err)
			}
			// The first dial fails; its redial is scheduled.
			tn.rec.waitFor(t, "dial failed", func(e event) bool { return e.kind == "state" && e.to == core.Disconnected })

			s := sessiontest.New(1)
			var fired atomic.Bool
			removed := false
			h := func() {
				if p.Session() != core.Session(s) {
					return // not yet installed: not the window
				}
				if !fired.CompareAndSwap(false, true) {
					return // once (the remover's own clock reads land here)
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					rm.remove(tn.Node, peer, s)
				}()
				<-done
				removed = p.Session() == nil
			}
			clk.hook.Store(&h)
			if _, err := tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return s }); err != nil {
				t.Fatal(err)
			}
			clk.hook.Store(nil)
			if !removed {
				t.Fatal("the remover did not run inside the installer's window")
			}
			if p.Session() != nil || s.IsAlive() {
				t.Fatal("the session should have been removed and closed")
			}

			// Disconnected and persistent: the supervisor must redial
			// within the (capped) backoff.
			if _, err := tn.Advance(tn.clk.Add(int64(2 * core.DefaultBackoffMax))); err != nil {
				t.Fatal(err)
			}
			if attempts.Load() == 0 {
				t.Fatalf("persistent peer left %v with no redial: the installer cancelled the remover's retry timer", p.State())
			}
		})
	}
}
