package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"go.uber.org/goleak"
)

// TestTimersSurviveInstallRacingRemoval: one purpose, one armed timer — and
// it must be the right one once the actors have settled. An install (Accept)
// races a removal (Disconnect) of a persistent peer. Whoever ends last must
// leave the peer's timers matching its state:
//
//   - disconnected: a redial is scheduled (the supervisor never drops a
//     persistent peer);
//   - connected: the liveness timer is armed (the session gets keepalives
//     and is reaped when idle).
//
// An installer that cancels the retry timer and re-arms liveness after the
// registry decided, without re-checking, undoes the arming of a remover that
// ended its session in between (the peer stays disconnected forever); a
// remover that cancels liveness after checking "not connected" undoes the
// arming of an installer that connected in between (the session is never
// kept alive nor reaped). Each round is checked at quiescence by moving the
// fake clock past every deadline. Bounded in rounds and time.
func TestTimersSurviveInstallRacingRemoval(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	removers := []struct {
		name   string
		remove func(n *core.Node, key core.PeerKey, installed <-chan struct{}, s core.Session)
	}{
		// Disconnect ends whichever session is there when it runs.
		{"Disconnect", func(n *core.Node, key core.PeerKey, _ <-chan struct{}, _ core.Session) {
			_, _ = n.Disconnect(key)
		}},
		// RemoveIfMatches of the new session retries until the install has
		// published it, so it lands right behind the registry's CAS, inside
		// the installer's arming.
		{"RemoveNew", func(n *core.Node, key core.PeerKey, installed <-chan struct{}, s core.Session) {
			for !n.RemoveIfMatches(key, s) {
				select {
				case <-installed:
					n.RemoveIfMatches(key, s)
					return
				default:
				}
			}
		}},
	}
	for _, rm := range removers {
		t.Run(rm.name, func(t *testing.T) {
			var mu sync.Mutex
			attempts := map[core.PeerKey]int{}
			tn := newTestNode(t, keyN(1), func(c *core.Config) {
				c.OnConnect, c.OnDisconnect, c.OnStateChange = nil, nil, nil
				c.OnReconnectAttempt = func(p *core.Peer, _ int) {
					mu.Lock()
					attempts[p.Key()]++
					mu.Unlock()
				}
				c.Dialer = core.DialerFunc(func(context.Context, *core.Peer) (core.Session, error) {
					return nil, errors.New("refused")
				})
			})
			defer func() {
				if err := tn.Close(); err != nil {
					t.Error(err)
				}
			}()
			attempted := func(k core.PeerKey) bool {
				mu.Lock()
				defer mu.Unlock()
				return attempts[k] > 0
			}
			more := bounded(20000, 2*time.Second)
			for round := 0; more(round); round++ {
				if err := timersRaceRound(tn, keyN(uint64(round+2)), rm.remove, attempted); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
		})
	}
}

// timersRaceRound runs one round on a fresh peer record and forgets it at
// the end (so its timers do not fire in later rounds).
func timersRaceRound(tn *testNode, peer core.PeerKey, remove func(*core.Node, core.PeerKey, <-chan struct{}, core.Session), attempted func(core.PeerKey) bool) error {
	defer tn.Forget(peer)
	first, second := sessiontest.New(1), sessiontest.New(2)
	if _, err := tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return first }); err != nil {
		return err
	}
	p, err := tn.AddPeer(peer, netip.AddrPort{}, true)
	if err != nil {
		return err
	}
	start, installed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(installed)
		<-start
		_, _ = tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return second })
	}()
	go func() {
		defer wg.Done()
		<-start
		remove(tn.Node, peer, installed, second)
	}()
	close(start)
	wg.Wait()

	now := tn.clk.Now()
	if s := p.Session(); s != nil && s.IsAlive() {
		// Connected: silence past the idle timeout must reap it.
		if _, err := tn.Advance(tn.clk.Add(int64(core.DefaultIdleTimeout + core.DefaultKeepaliveInterval + time.Second))); err != nil {
			return err
		}
		if s.IsAlive() || p.Session() != nil {
			return errors.New("connected session not reaped after the idle timeout: no liveness timer armed")
		}
		return nil
	}
	// Disconnected: the supervisor must redial within the backoff.
	if _, err := tn.Advance(tn.clk.Add(int64(2 * core.DefaultBackoffMax))); err != nil {
		return err
	}
	if !attempted(peer) {
		return fmt.Errorf("persistent peer disconnected at %v and no redial was attempted: retry timer lost", now)
	}
	return nil
}

// TestAddPeerPersistentRacingForget: AddPeer(persistent) races the liveness
// timer forgetting the same record at the end of its retention. Either the
// forget wins and AddPeer supervises the key's new record, or AddPeer wins
// and the record is kept; in both cases the key must end up with a record
// that is in the table and persistent. If the persistent flag is set outside
// the lock the forget check holds, the forget can remove the record right
// after AddPeer marked it: AddPeer returns a dead record, and the key's
// supervision is silently lost.
func TestAddPeerPersistentRacingForget(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), func(c *core.Config) {
		c.OnConnect, c.OnDisconnect, c.OnStateChange = nil, nil, nil
		c.BackoffBase, c.BackoffMax = time.Hour, time.Hour
		c.Dialer = core.DialerFunc(func(context.Context, *core.Peer) (core.Session, error) {
			return nil, errors.New("refused")
		})
	})
	defer func() {
		if err := tn.Close(); err != nil {
			t.Error(err)
		}
	}()
	more := bounded(20000, 2*time.Second)
	for round := 0; more(round); round++ {
		peer := keyN(uint64(round + 2))
		if _, err := tn.AddPeer(peer, netip.AddrPort{}, false); err != nil {
			t.Fatal(err)
		}
		at := tn.clk.Add(int64(core.DefaultRetention)) // the record's forget is due
		start := make(chan struct{})
		var got *core.Peer
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, _ = tn.Advance(at)
		}()
		go func() {
			defer wg.Done()
			<-start
			got, _ = tn.AddPeer(peer, netip.AddrPort{}, true)
		}()
		close(start)
		wg.Wait()
		cur, ok := tn.Table().Load(peer)
		if !ok || cur != got || !cur.Persistent() {
			t.Fatalf("round %d: AddPeer(persistent) returned a record that is not the key's (in table %v, same %v, persistent %v)",
				round, ok, cur == got, ok && cur.Persistent())
		}
		_, _ = tn.Forget(peer)
	}
}

// TestDialFailureRacingAcceptKeepsLiveness: a user's Connect fails while an
// incoming connection from the same (non-persistent) peer is installed. The
// failed dial must not re-arm the liveness timer as the forget timer once the
// incoming session is in: that pushes the session's keepalive and idle
// reaping out to the end of the retention window (15 min instead of one
// keepalive interval). Checked at quiescence of each round by moving the
// fake clock past the idle timeout. Bounded in rounds and time.
func TestDialFailureRacingAcceptKeepsLiveness(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	var gate atomic.Pointer[chan struct{}]
	tn := newTestNode(t, keyN(1), func(c *core.Config) {
		c.OnConnect, c.OnDisconnect, c.OnStateChange = nil, nil, nil
		c.Dialer = core.DialerFunc(func(context.Context, *core.Peer) (core.Session, error) {
			<-*gate.Load()
			return nil, errors.New("refused")
		})
	})
	defer func() {
		if err := tn.Close(); err != nil {
			t.Error(err)
		}
	}()
	more := bounded(20000, 2*time.Second)
	for round := 0; more(round); round++ {
		peer := keyN(uint64(round + 2))
		p, err := tn.AddPeer(peer, netip.AddrPort{}, false)
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		gate.Store(&start)
		s := sessiontest.New(uint64(round + 1))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _ = tn.Connect(context.Background(), peer)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _ = tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return s })
		}()
		close(start)
		wg.Wait()
		if p.Session() != core.Session(s) || !s.IsAlive() {
			t.Fatalf("round %d: the incoming session is not installed", round)
		}
		if _, err := tn.Advance(tn.clk.Add(int64(core.DefaultIdleTimeout + core.DefaultKeepaliveInterval + time.Second))); err != nil {
			t.Fatal(err)
		}
		if s.IsAlive() {
			t.Fatalf("round %d: session not reaped after the idle timeout: its liveness timer was re-armed for the forget deadline", round)
		}
		_, _ = tn.Forget(peer)
	}
}

// TestLivenessCallbackRacingReconnect: the liveness timer (armed for the
// connected session's keepalive) fires while the peer disconnects and
// reconnects. Two ways to get it wrong:
//
//   - the callback finds the slot empty before the disconnect has recorded
//     its end time, takes the keepalive firing for a forget check against
//     the previous end time, and forgets the record as it disconnects,
//     inside the retention window (the reconnect then starts fresh on a new
//     record);
//   - the callback re-arms itself for the forget deadline without
//     re-checking the slot, overriding the liveness timer the new session's
//     install has just armed: no keepalive, no idle reaping until retention
//     ends.
//
// Checked at quiescence of each round. Bounded in rounds and time.
func TestLivenessCallbackRacingReconnect(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), func(c *core.Config) {
		c.OnConnect, c.OnDisconnect, c.OnStateChange = nil, nil, nil
	})
	defer func() {
		if err := tn.Close(); err != nil {
			t.Error(err)
		}
	}()
	K := core.DefaultKeepaliveInterval
	more := bounded(20000, 2*time.Second)
	for round := 0; more(round); round++ {
		peer := keyN(uint64(round + 2))
		s1, s2 := sessiontest.New(1), sessiontest.New(2)
		if _, err := tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return s1 }); err != nil {
			t.Fatal(err)
		}
		p, _ := tn.Table().Load(peer)
		at := tn.clk.Add(int64(K)) // s1's liveness timer is due
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, _ = tn.Advance(at)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _ = tn.Disconnect(peer)
			_, _ = tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return s2 })
		}()
		close(start)
		wg.Wait()
		if p.Forgotten() {
			t.Fatalf("round %d: the record was forgotten as its session ended, inside the retention window", round)
		}
		if p.Session() != core.Session(s2) || !s2.IsAlive() {
			t.Fatalf("round %d: s2 not installed", round)
		}
		if _, err := tn.Advance(tn.clk.Add(int64(core.DefaultIdleTimeout + K + time.Second))); err != nil {
			t.Fatal(err)
		}
		if s2.IsAlive() {
			t.Fatalf("round %d: session not reaped after the idle timeout: its liveness timer was overridden", round)
		}
		_, _ = tn.Forget(peer)
	}
}
