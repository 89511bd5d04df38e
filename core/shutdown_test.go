package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
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

// checkClosedTotal checks the end state Close promises (invariant 7): every
// record left in the table is Closed, holds no session and has no timer
// armed.
func checkClosedTotal(t *testing.T, n *core.Node) {
	t.Helper()
	n.Table().Range(func(p *core.Peer) bool {
		if st := p.State(); st != core.Closed {
			t.Errorf("peer %v: state %v after Close, want closed", p.Key(), st)
		}
		if s := p.Session(); s != nil {
			t.Errorf("peer %v: still holds a session after Close", p.Key())
		}
		if live, retry := core.TimersPending(p); live || retry {
			t.Errorf("peer %v: timer armed after Close (liveness %v, retry %v)", p.Key(), live, retry)
		}
		return true
	})
}

// TestAddPeerRacingCloseCreatesNoRecord: AddPeer has passed its "closed?"
// check when Close runs (the hook clock holds AddPeer at its clock read,
// which comes after that check and before the record is created, and lets
// Close run until it returns or blocks: testing/synctest). Close must either
// wait for AddPeer or make it fail: once Close has begun no record is
// created, and every record ends Closed. An AddPeer that is not tracked work
// and creates unconditionally adds a record after Close's sweep, left
// Disconnected (and, for a persistent peer, supervised by nobody) forever.
func TestAddPeerRacingCloseCreatesNoRecord(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for _, persistent := range []bool{false, true} {
		name := "transient"
		if persistent {
			name = "persistent"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var clk *hookClock
				tn := newTestNode(t, keyN(1), func(c *core.Config) {
					clk = &hookClock{base: c.Clock}
					c.Clock = clk
					c.Dialer = refuseDials
				})
				closed := make(chan error, 1)
				var fired atomic.Bool
				h := func() {
					if !fired.CompareAndSwap(false, true) {
						return
					}
					go func() { closed <- tn.Close() }()
					synctest.Wait() // Close has returned, or waits for AddPeer
				}
				clk.hook.Store(&h)
				peer := keyN(2)
				p, err := tn.AddPeer(peer, netip.MustParseAddrPort("192.0.2.7:7"), persistent)
				if !fired.Load() {
					t.Fatal("the hook did not run")
				}
				if err := <-closed; err != nil {
					t.Fatalf("Close: %v", err)
				}
				if err == nil {
					t.Errorf("AddPeer racing Close succeeded (record state %v); want ErrClosed", p.State())
				} else if !errors.Is(err, core.ErrClosed) {
					t.Errorf("AddPeer: %v, want ErrClosed", err)
				}
				if q, ok := tn.Table().Load(peer); ok {
					t.Errorf("AddPeer created a record (state %v) after Close began", q.State())
				}
				if q, ok := tn.Table().LoadByAddr(netip.MustParseAddrPort("192.0.2.7:7")); ok {
					t.Errorf("address index holds a record (state %v) after Close", q.State())
				}
				checkClosedTotal(t, tn.Node)
			})
		})
	}
}

// hookSource is a rand.Source that runs a hook on every draw, so a test can
// pause the supervisor inside scheduleRetry (the jitter draw comes after the
// "closed?" check and before the timer is armed).
type hookSource struct {
	rand.Source
	hook atomic.Pointer[func()]
}

func (s *hookSource) Uint64() uint64 {
	if h := s.hook.Load(); h != nil {
		(*h)()
	}
	return s.Source.Uint64()
}

// TestNoTimerArmedAfterClose: a remover (Disconnect of a persistent peer) is
// paused inside the arming of the peer's redial — after its check that the
// node is open, before the wheel call — while Close runs, drains for
// DrainTimeout without it and sweeps. When it resumes after Close returned,
// its arming must not survive: after Close no timer of the node is armed.
// (testing/synctest: fake time for the drain timeout, deterministic order.)
func TestNoTimerArmedAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		src := &hookSource{Source: rand.NewPCG(1, 2)}
		tn := newTestNode(t, keyN(1), func(c *core.Config) {
			c.Rand = rand.New(src)
			c.DrainTimeout = time.Second
			c.Dialer = refuseDials
		})
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
		if err := tn.Close(); !errors.Is(err, core.ErrDrainTimeout) {
			t.Fatalf("Close: %v, want ErrDrainTimeout (the remover is held)", err)
		}
		close(release)
		<-removed
		if live, retry := core.TimersPending(p); live || retry {
			t.Fatalf("timer armed after Close returned (liveness %v, retry %v)", live, retry)
		}
		checkClosedTotal(t, tn.Node)
	})
}

// TestCloseIsTotalUnderConcurrentCalls races AddPeer, Accept, Connect,
// Disconnect, Forget and timer advances with Close, and checks the end
// state: every record in the table is Closed with no session and no timer
// armed, every session the node ever accepted or dialled is closed, every
// announced session was announced disconnected exactly once, a call made
// after Close began created no record, and Close returned without a drain
// timeout. Bounded in rounds and wall time.
func TestCloseIsTotalUnderConcurrentCalls(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const keys, workers, opsPerWorker = 6, 4, 40
	more := bounded(300, 3*time.Second)
	for round := 0; more(round); round++ {
		closeTotalRound(t, round, keys, workers, opsPerWorker)
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
}

func closeTotalRound(t *testing.T, round, keys, workers, ops int) {
	var (
		mu       sync.Mutex
		sessions []*sessiontest.Session
		announce = map[core.Session]int{} // +1 connect, then disconnects counted below
		discs    = map[core.Session]int{}
		nextID   atomic.Uint64
		added    []*core.Peer
	)
	newSess := func() *sessiontest.Session {
		s := sessiontest.New(nextID.Add(1))
		mu.Lock()
		sessions = append(sessions, s)
		mu.Unlock()
		return s
	}
	tn := newTestNode(t, keyN(0), func(c *core.Config) {
		c.OnStateChange, c.OnReconnectAttempt = nil, nil
		c.OnConnect = func(_ *core.Peer, s core.Session, _ context.Context) {
			mu.Lock()
			announce[s]++
			mu.Unlock()
		}
		c.OnDisconnect = func(_ *core.Peer, s core.Session, _ error) {
			mu.Lock()
			discs[s]++
			mu.Unlock()
		}
		c.BackoffBase, c.BackoffMax = time.Millisecond, 4*time.Millisecond
		c.Dialer = core.DialerFunc(func(ctx context.Context, p *core.Peer) (core.Session, error) {
			if nextID.Load()%3 == 0 {
				return nil, errRefused
			}
			return newSess(), nil
		})
	})
	key := func(i int) core.PeerKey { return keyN(uint64(1 + i%keys)) }
	addr := func(i int) netip.AddrPort { return addrN(uint32(i % (keys + 2))) }

	start := make(chan struct{})
	var wg sync.WaitGroup
	lateKeys := make(chan core.PeerKey, workers*ops)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range ops {
				j := w*ops + i + round
				began := false
				select {
				case <-tn.Done():
					began = true
				default:
				}
				var err error
				switch j % 6 {
				case 0:
					var p *core.Peer
					p, err = tn.AddPeer(key(j), addr(j), j%4 == 0)
					if err == nil {
						mu.Lock()
						added = append(added, p)
						mu.Unlock()
					}
				case 1:
					_, err = tn.AcceptSession(key(j), addr(j+1), func() core.Session { return newSess() })
				case 2:
					_, err = tn.Connect(context.Background(), key(j))
				case 3:
					_, err = tn.Disconnect(key(j))
				case 4:
					_, err = tn.Forget(key(j))
				case 5:
					_, err = tn.Advance(tn.clk.Add(int64(time.Millisecond)))
				}
				if began {
					if !errors.Is(err, core.ErrClosed) {
						t.Errorf("op %d after Close began: %v, want ErrClosed", j%6, err)
					}
					// A fresh key after Close began: nothing may create it.
					late := keyN(uint64(1000 + j))
					if _, err := tn.AddPeer(late, netip.AddrPort{}, j%2 == 0); !errors.Is(err, core.ErrClosed) {
						t.Errorf("AddPeer of a new key after Close began: %v", err)
					}
					if _, err := tn.AcceptSession(late, netip.AddrPort{}, func() core.Session { return newSess() }); !errors.Is(err, core.ErrClosed) {
						t.Errorf("Accept of a new key after Close began: %v", err)
					}
					lateKeys <- late
				}
			}
		}()
	}
	closed := make(chan error, 1)
	go func() {
		<-start
		for range round % 7 { // let some work start first, varying per round
			_, _ = tn.Advance(tn.clk.Add(int64(time.Millisecond)))
		}
		closed <- tn.Close()
	}()
	close(start)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	close(lateKeys)
	for k := range lateKeys {
		if p, ok := tn.Table().Load(k); ok {
			t.Errorf("a call after Close began created a record (state %v)", p.State())
		}
	}
	checkClosedTotal(t, tn.Node)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range added {
		if !p.Forgotten() && p.State() != core.Closed {
			t.Errorf("a record AddPeer returned is %v after Close, want closed", p.State())
		}
	}
	for _, s := range sessions {
		if s.IsAlive() {
			t.Errorf("session %d still alive after Close", s.ID)
		}
	}
	for s, c := range announce {
		if c != 1 || discs[s] != 1 {
			t.Errorf("session %d: %d connects, %d disconnects; want exactly one each", s.(*sessiontest.Session).ID, c, discs[s])
		}
	}
	for s := range discs {
		if announce[s] == 0 {
			t.Errorf("session %d: disconnect without connect", s.(*sessiontest.Session).ID)
		}
	}
}
