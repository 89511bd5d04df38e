package core_test

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"go.uber.org/goleak"
)

// TestTimerCallbackStartedBeforeCloseDoesNothingAfter: a reconnect timer
// fires and its callback is paused (in OnReconnectAttempt) while Close
// begins; when it resumes it must not dial. A callback that only checks
// "closed?" on entry — or none at all, like a time.AfterFunc — dials into a
// closed node. After Close, Advance fires nothing.
func TestTimerCallbackStartedBeforeCloseDoesNothingAfter(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	entered, release := make(chan struct{}), make(chan struct{})
	tn := newTestNode(t, keyN(1), nil)
	tn.rec.onAttempt = func(*core.Peer, int) {
		close(entered)
		<-release
	}
	peer := keyN(2)
	go func() {
		c := <-tn.dialer.Calls
		c.Return(nil, errRefused) // the first dial fails: a retry is armed
	}()
	p, _ := tn.AddPeer(peer, netip.AddrPort{}, true)
	tn.rec.waitFor(t, "dial failed", func(e event) bool { return e.kind == "state" && e.to == core.Disconnected })

	advanced := make(chan error)
	go func() {
		_, err := tn.Advance(p.NextRetry().Add(time.Millisecond))
		advanced <- err
	}()
	<-entered // the retry callback is running
	closed := make(chan error)
	go func() { closed <- tn.Close() }()
	<-tn.Done() // Close has begun: the root context is cancelled
	close(release)
	if err := <-advanced; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err) // a dial started by the callback would block the drain
	}
	if got := p.Counters().Dials; got != 1 {
		t.Fatalf("%d dials, want 1: the timer callback dialled after Close began", got)
	}
	if _, err := tn.Advance(p.NextRetry().Add(time.Hour)); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Advance after Close: %v", err)
	}
}

// TestDialStartedBeforeCloseDoesNothingAfter: a dial is in flight when Close
// begins and then completes with a live session (the handshake finished as
// the context was cancelled). The node must discard it: closed, never
// installed, no connect callback. The naive design installs whatever the
// dialer returns.
func TestDialStartedBeforeCloseDoesNothingAfter(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil)
	peer := keyN(2)
	calls := make(chan *sessiontest.Call)
	go func() { calls <- <-tn.dialer.Calls }()
	p, err := tn.AddPeer(peer, netip.AddrPort{}, true)
	if err != nil {
		t.Fatal(err)
	}
	c := <-calls
	closed := make(chan error)
	go func() { closed <- tn.Close() }()
	<-tn.Done()
	<-c.Ctx.Done() // the dial's context is cancelled by Close
	late := sessiontest.New(1)
	c.Return(late, nil)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if late.IsAlive() || late.Closes() == 0 {
		t.Fatal("the late session was not closed")
	}
	if late.Serves() != 0 || p.Session() != nil {
		t.Fatal("the late session was installed")
	}
	if conns, _ := tn.rec.counts(1); conns != 0 {
		t.Fatal("connect callback fired for a dial that completed after Close")
	}
	if p.State() != core.Closed {
		t.Fatalf("state %v, want closed", p.State())
	}
}

// TestCloseDrainsWithinTimeout: with a dial in flight that ignores its
// context, Close returns ErrDrainTimeout after exactly DrainTimeout (fake
// time, testing/synctest). A Close that waits on a plain WaitGroup hangs
// forever, which synctest reports as a deadlock. With nothing in flight Close
// returns at once: it never sleeps a fixed time.
func TestCloseDrainsWithinTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for _, drain := range []time.Duration{0, 250 * time.Millisecond} {
		want := drain
		if want == 0 {
			want = core.DefaultDrainTimeout
		}
		t.Run(want.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tn := newTestNode(t, keyN(1), func(c *core.Config) { c.DrainTimeout = drain })
				calls := make(chan *sessiontest.Call)
				go func() { calls <- <-tn.dialer.Calls }()
				if _, err := tn.AddPeer(keyN(2), netip.AddrPort{}, true); err != nil {
					t.Fatal(err)
				}
				c := <-calls // the dialer now blocks, ignoring its context
				start := time.Now()
				err := tn.Close()
				if elapsed := time.Since(start); elapsed != want {
					t.Fatalf("Close took %v, want the drain timeout %v", elapsed, want)
				}
				if !errors.Is(err, core.ErrDrainTimeout) {
					t.Fatalf("Close: %v, want ErrDrainTimeout", err)
				}
				c.Return(sessiontest.New(1), nil) // the straggler finishes: discarded
				synctest.Wait()
			})
		})
	}
	t.Run("nothing in flight", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tn := newTestNode(t, keyN(1), nil)
			tn.accept(t, keyN(2), sessiontest.New(1))
			start := time.Now()
			if err := tn.Close(); err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed != 0 {
				t.Fatalf("Close took %v of fake time with nothing stuck", elapsed)
			}
		})
	})
}

// slowCloseSession is a session whose Close blocks until release is closed,
// so a test can hold a remover inside the disconnect pipeline.
type slowCloseSession struct {
	*sessiontest.Session
	entered chan struct{} // closed when Close is first entered
	release chan struct{}
	once    sync.Once
}

func (s *slowCloseSession) Close() error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.Session.Close()
}

// TestUserRemovalRacingCloseEndsBeforeCloseReturns: a user call that ends a
// session (Disconnect, RemoveIfMatches, Forget) is mid-pipeline — it took
// the session out of the slot and is closing it — when Close begins. Close
// must wait for it, so that its callbacks (OnDisconnect, OnStateChange) run
// before Close returns: after Close returns no callback of the node runs.
// If these calls are not tracked work, Close drains nothing, its sweep finds
// the slot empty, it returns, and the disconnect is announced afterwards.
// Deterministic: testing/synctest shows whether Close returned while the
// remover was still held.
func TestUserRemovalRacingCloseEndsBeforeCloseReturns(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	removers := []struct {
		name   string
		remove func(n *core.Node, key core.PeerKey, s core.Session)
	}{
		{"Disconnect", func(n *core.Node, key core.PeerKey, _ core.Session) { _, _ = n.Disconnect(key) }},
		{"RemoveIfMatches", func(n *core.Node, key core.PeerKey, s core.Session) { n.RemoveIfMatches(key, s) }},
		{"Forget", func(n *core.Node, key core.PeerKey, _ core.Session) { _, _ = n.Forget(key) }},
	}
	for _, tc := range removers {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var closeReturned, lateCallback atomic.Bool
				tn := newTestNode(t, keyN(1), func(c *core.Config) {
					c.OnConnect, c.OnStateChange = nil, nil
					c.OnDisconnect = func(*core.Peer, core.Session, error) {
						if closeReturned.Load() {
							lateCallback.Store(true)
						}
					}
				})
				peer := keyN(2)
				s := &slowCloseSession{Session: sessiontest.New(1), entered: make(chan struct{}), release: make(chan struct{})}
				if _, err := tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return s }); err != nil {
					t.Fatal(err)
				}
				removed := make(chan struct{})
				go func() {
					defer close(removed)
					tc.remove(tn.Node, peer, s)
				}()
				<-s.entered // the remover owns the session and is closing it

				closed := make(chan error, 1)
				go func() {
					err := tn.Close()
					closeReturned.Store(true)
					closed <- err
				}()
				synctest.Wait() // Close has returned, or is waiting for the remover
				select {
				case <-closed:
					close(s.release)
					<-removed
					t.Fatal("Close returned while a removal of a session was still in its disconnect pipeline")
				default:
				}
				close(s.release)
				<-removed
				if err := <-closed; err != nil {
					t.Fatalf("Close: %v", err)
				}
				if lateCallback.Load() {
					t.Fatal("OnDisconnect ran after Close returned")
				}
			})
		})
	}
}
