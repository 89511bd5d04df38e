package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"go.uber.org/goleak"
)

// TestDialStartedBeforeForgetDoesNotResurrect: a dial to a peer is in flight
// (the supervisor's, or a user's Connect) when the user forgets the peer;
// then the handshake completes. Forget ended that record's life: the dial's
// session must be closed and discarded, not installed into a new record for
// the key (a zombie entry the user removed, brought back connected and no
// longer supervised). An incoming connection after Forget is another story
// (the remote chose to connect) and still creates a record.
func TestDialStartedBeforeForgetDoesNotResurrect(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tests := []struct {
		name string
		// start begins a dial to key and returns a channel that yields its
		// error once it has ended (nil channel: the dial is the node's own).
		start func(t *testing.T, tn *testNode, key core.PeerKey) <-chan error
	}{
		{"supervisor", func(t *testing.T, tn *testNode, key core.PeerKey) <-chan error {
			if _, err := tn.AddPeer(key, netip.AddrPort{}, true); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"Connect", func(t *testing.T, tn *testNode, key core.PeerKey) <-chan error {
			if _, err := tn.AddPeer(key, netip.AddrPort{}, false); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := tn.Connect(context.Background(), key)
				done <- err
			}()
			return done
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNode(t, keyN(1), nil)
			peer := keyN(2)
			calls := make(chan *sessiontest.Call, 1)
			go func() { calls <- <-tn.dialer.Calls }()
			done := tc.start(t, tn, peer)
			c := <-calls // the dial is in flight
			if ok, err := tn.Forget(peer); !ok || err != nil {
				t.Fatalf("Forget: %v %v", ok, err)
			}
			late := sessiontest.New(1)
			c.Return(late, nil)
			if done != nil {
				if err := <-done; !errors.Is(err, core.ErrUnknownPeer) {
					t.Errorf("Connect of a peer forgotten mid-dial: %v, want ErrUnknownPeer", err)
				}
			}
			// The dial has ended once the forgotten record leaves
			// Connecting (its dialing flag is cleared after the install).
			tn.rec.waitFor(t, "dial ended", func(e event) bool { return e.kind == "state" && e.from == core.Connecting })
			if err := tn.Close(); err != nil {
				t.Fatal(err)
			}
			if conns, _ := tn.rec.counts(1); conns != 0 {
				t.Error("the dial's session was installed (OnConnect) after its peer was forgotten")
			}
			if p, ok := tn.Table().Load(peer); ok {
				t.Errorf("the dial recreated the forgotten peer's record (state %v, persistent %v)", p.State(), p.Persistent())
			}
			if late.IsAlive() {
				t.Error("the dial's session was not closed")
			}
		})
	}
	t.Run("incoming after Forget", func(t *testing.T) {
		tn := newTestNode(t, keyN(1), nil)
		defer tn.Close()
		peer := keyN(2)
		tn.accept(t, peer, sessiontest.New(1))
		if ok, err := tn.Forget(peer); !ok || err != nil {
			t.Fatalf("Forget: %v %v", ok, err)
		}
		s := sessiontest.New(2)
		tn.accept(t, peer, s)
		if p, ok := tn.Table().Load(peer); !ok || p.Session() != core.Session(s) {
			t.Fatal("an incoming connection after Forget was not installed in a new record")
		}
	})
}

// TestNoTimerArmedAfterForget: a remover (Disconnect of a persistent peer)
// is paused inside the arming of the redial — after its "forgotten?" check,
// before the wheel call (hook rand source: the jitter draw) — while Forget
// removes the record and cancels its timers. When the remover resumes, its
// arming must not survive: a forgotten record keeps no timer (otherwise the
// wheel holds it, and runs its callbacks, for up to a retention window).
func TestNoTimerArmedAfterForget(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	src := &hookSource{Source: rand.NewPCG(1, 2)}
	tn := newTestNode(t, keyN(1), func(c *core.Config) {
		c.Rand = rand.New(src)
		c.Dialer = refuseDials
	})
	defer tn.Close()
	peer := keyN(2)
	tn.accept(t, peer, sessiontest.New(1))
	p, err := tn.AddPeer(peer, netip.AddrPort{}, true)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var fired atomic.Bool
	h := func() {
		if fired.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	}
	src.hook.Store(&h)
	removed := make(chan struct{})
	go func() {
		defer close(removed)
		_, _ = tn.Disconnect(peer)
	}()
	<-entered // the remover is about to arm the redial
	if ok, err := tn.Forget(peer); !ok || err != nil {
		t.Fatalf("Forget: %v %v", ok, err)
	}
	close(release)
	<-removed
	if live, retry := core.TimersPending(p); live || retry {
		t.Fatalf("timer armed on a forgotten record (liveness %v, retry %v)", live, retry)
	}
}

// TestForgetCheckRacingFailedDialStillForgets: a non-persistent record past
// its retention is dialled (Connect) and the dial fails. The forget check
// skips a record that is dialing; the failed dial re-arms it. If that
// re-arming is the last one and comes before the dialing flag is cleared, a
// check firing in between skips the record and nobody arms it again: a
// record past retention, not persistent, kept forever. The test hook runs
// the wheel exactly there (the window is a few instructions wide: a stress
// loop did not hit it).
func TestForgetCheckRacingFailedDialStillForgets(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), func(c *core.Config) {
		c.OnConnect, c.OnDisconnect, c.OnStateChange = nil, nil, nil
		c.Dialer = refuseDials
	})
	defer func() {
		if err := tn.Close(); err != nil {
			t.Error(err)
		}
	}()
	peer := keyN(2)
	p, err := tn.AddPeer(peer, netip.AddrPort{}, false)
	if err != nil {
		t.Fatal(err)
	}
	at := tn.clk.Add(int64(core.DefaultRetention + time.Millisecond)) // its forget is due
	fired := -1
	defer core.SetTestHookDialFailedArmed(func(*core.Peer) {
		fired, _ = tn.Advance(at) // the forget check fires while the record still reads dialing
	})()
	if _, err := tn.Connect(context.Background(), peer); !errors.Is(err, errRefused) {
		t.Fatalf("Connect: %v", err)
	}
	if fired != 1 || p.Forgotten() {
		t.Fatalf("the hook's advance fired %d timers (forgotten %v), want the one forget check, skipped", fired, p.Forgotten())
	}
	if _, err := tn.Advance(tn.clk.Add(int64(time.Millisecond))); err != nil {
		t.Fatal(err)
	}
	if !p.Forgotten() {
		t.Fatalf("record past retention, not persistent, not dialing, still kept (state %v): its forget check was lost", p.State())
	}
}
