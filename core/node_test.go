package core_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"go.uber.org/goleak"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  core.Config
	}{
		{"zero local key", core.Config{}},
		{"negative drain", core.Config{Local: keyN(1), DrainTimeout: -1}},
		{"idle not above keepalive", core.Config{Local: keyN(1), KeepaliveInterval: 10, IdleTimeout: 10}},
		{"backoff max below base", core.Config{Local: keyN(1), BackoffBase: 10, BackoffMax: 5}},
		{"jitter >= 1", core.Config{Local: keyN(1), BackoffJitter: 1}},
		{"negative size hint", core.Config{Local: keyN(1), SizeHint: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.ManualAdvance = true
			if n, err := core.New(tc.cfg); err == nil {
				n.Close()
				t.Fatal("New accepted an invalid Config")
			}
		})
	}
}

// TestSessionLifecycle: connect and disconnect are announced once each, the
// peer record outlives the session, and each session gets its own
// processing context, cancelled at its disconnect; a reconnect gets a fresh
// one.
func TestSessionLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil)
	defer tn.Close()
	peer := keyN(2)

	s1 := sessiontest.New(1)
	tn.accept(t, peer, s1)
	c1 := tn.rec.waitFor(t, "connect 1", func(e event) bool { return e.kind == "connect" && e.id == 1 })
	p, _ := tn.Table().Load(peer)
	if p.State() != core.Connected || p.Session() != core.Session(s1) {
		t.Fatalf("after accept: state %v", p.State())
	}

	s1.Kill() // the peer goes away: Serve returns, the node ends the session
	d1 := tn.rec.waitFor(t, "disconnect 1", func(e event) bool { return e.kind == "disconnect" && e.id == 1 })
	if !errors.Is(d1.reason, core.ErrSessionDied) {
		t.Fatalf("disconnect reason %v", d1.reason)
	}
	if c1.ctx.Err() == nil {
		t.Fatal("session 1's processing context still live after its disconnect")
	}
	if q, ok := tn.Table().Load(peer); !ok || q != p {
		t.Fatal("peer record did not outlive its session")
	}
	if p.State() != core.Disconnected || p.Session() != nil {
		t.Fatalf("after disconnect: state %v", p.State())
	}

	s2 := sessiontest.New(2)
	tn.accept(t, peer, s2)
	c2 := tn.rec.waitFor(t, "connect 2", func(e event) bool { return e.kind == "connect" && e.id == 2 })
	if c2.ctx == c1.ctx || c2.ctx.Err() != nil {
		t.Fatal("reconnect did not get a fresh processing context")
	}
	if got := p.Counters(); got.Connects != 2 || got.Disconnects != 1 {
		t.Fatalf("counters %+v", got)
	}
	st := tn.Stats()
	if st.Peers != 1 || st.Sessions != 1 || st.ByState[core.Connected] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	if c2.ctx.Err() == nil || s2.IsAlive() {
		t.Fatal("Close left session 2 running")
	}
	if p.State() != core.Closed {
		t.Fatalf("after Close: state %v", p.State())
	}
	for id := uint64(1); id <= 2; id++ {
		if c, d := tn.rec.counts(id); c != 1 || d != 1 {
			t.Fatalf("session %d: %d connects, %d disconnects", id, c, d)
		}
	}
}

// TestDisconnectCallbackOnceUnderRacingCloses races every path that can end
// a session — the peer killing it (its Serve returns), Disconnect,
// RemoveIfMatches, a newer
// session replacing it, and Close — and checks each session's disconnect was
// announced exactly once, after its connect. The naive design, where every
// closer fires the callback after its own close, announces it up to four
// times.
func TestDisconnectCallbackOnceUnderRacingCloses(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for round, more := 0, bounded(200, 5*time.Second); more(round); round++ {
		tn := newTestNode(t, keyN(1), nil)
		peer := keyN(2)
		s1 := sessiontest.New(1)
		tn.accept(t, peer, s1)
		s2 := sessiontest.New(2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		racers := []func(){
			func() { s1.Kill() },
			func() { _, _ = tn.Disconnect(peer) },
			func() { tn.RemoveIfMatches(peer, s1) },
			func() {
				res, err := tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return s2 })
				if err != nil || res.Kept {
					s2.Close() // not installed: the offering caller closes it
				}
			},
			func() { _ = tn.Close() },
		}
		for _, f := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f()
			}()
		}
		close(start)
		wg.Wait()
		_ = tn.Close()
		for id := uint64(1); id <= 2; id++ {
			c, d := tn.rec.counts(id)
			if c != d || c > 1 {
				t.Fatalf("round %d, session %d: %d connects, %d disconnects; want equal and at most 1", round, id, c, d)
			}
		}
		if c, _ := tn.rec.counts(1); c != 1 {
			t.Fatalf("round %d: session 1 connect announced %d times", round, c)
		}
		if s1.IsAlive() || s2.IsAlive() {
			t.Fatalf("round %d: a session survived Close", round)
		}
	}
}

// TestZombieDoesNotBlockAccept: at the Node level, a session that died
// without its processing noticing yet (a zombie) does not block a new
// incoming connection that would lose the rule against a live session.
func TestZombieDoesNotBlockAccept(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil) // local is the lower key
	defer tn.Close()
	peer := keyN(2)
	zombie := sessiontest.New(1)
	tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session { return zombie })
	// Make the installed session look outgoing-from-lower: replace it by a
	// dialled one, then kill that one silently.
	p, _ := tn.Table().Load(peer)
	go func() {
		c := <-tn.dialer.Calls
		c.Return(sessiontest.New(3), nil)
	}()
	if _, err := tn.Connect(context.Background(), peer); err != nil {
		t.Fatal(err)
	}
	out := p.Session().(*sessiontest.Session)
	out.MarkDead() // zombie: dead, still installed, Serve still blocked
	// An incoming connection from the higher key loses against a live
	// outgoing one from the lower key; against the zombie it must win.
	res := tn.accept(t, peer, sessiontest.New(4))
	if res.Kept || sessID(res.New) != 4 || sessID(res.Replaced) != 3 {
		t.Fatalf("zombie blocked the reconnect: %+v", res)
	}
	tn.rec.waitFor(t, "zombie disconnect", func(e event) bool { return e.kind == "disconnect" && e.id == 3 })
}

// TestCloseIsIdempotent: the first Close returns nil, later ones ErrClosed,
// which matches net.ErrClosed; every method refuses work after Close.
func TestCloseIsIdempotent(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil)
	tn.AddPeer(keyN(2), netip.AddrPort{}, false)
	if err := tn.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	for i := range 3 {
		if err := tn.Close(); !errors.Is(err, core.ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Close #%d: %v", i+2, err)
		}
	}
	if _, err := tn.Advance(t0 + 1e12); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Advance after Close: %v", err)
	}
	if _, err := tn.AcceptSession(keyN(3), netip.AddrPort{}, func() core.Session { return sessiontest.New(1) }); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := tn.Connect(context.Background(), keyN(2)); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
	if _, err := tn.AddPeer(keyN(4), netip.AddrPort{}, true); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("AddPeer after Close: %v", err)
	}
}

// TestAutoDriverReapsAndStops runs the production driver (a ticker
// goroutine) on a fake clock: moving the clock past the idle timeout gets
// the peer reaped by the driver, and Close stops the driver (goleak).
func TestAutoDriverReapsAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), func(c *core.Config) { c.ManualAdvance = false })
	tn.accept(t, keyN(2), sessiontest.New(1))
	tn.clk.Set(t0.Add(core.DefaultIdleTimeout))
	e := tn.rec.waitFor(t, "idle disconnect", func(e event) bool { return e.kind == "disconnect" })
	if !errors.Is(e.reason, core.ErrIdleTimeout) {
		t.Fatalf("reason %v", e.reason)
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNodesDialBothWays runs two Nodes that dial each other at the same
// time over an in-memory network (a dial of A to B is B.Accept of the other
// end of a connection pair; closing one end kills the other). Both must end
// with one live session, the same connection on both sides: the one the
// lower key initiated. With a first-wins or last-wins registry the two ends
// keep different connections, and each close kills the other side's winner.
func TestNodesDialBothWays(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for round, more := 0, bounded(100, 5*time.Second); more(round); round++ {
		keys := [2]core.PeerKey{keyN(5), keyN(9)} // node 0 has the lower key
		var nodes [2]*testNode
		for i := range 2 {
			nodes[i] = newTestNode(t, keys[i], func(c *core.Config) {
				c.Dialer = core.DialerFunc(func(ctx context.Context, p *core.Peer) (core.Session, error) {
					local, remote := sessiontest.NewPair(uint64(100*(i+1) + round))
					res, err := nodes[1-i].AcceptSession(keys[i], netip.AddrPort{}, func() core.Session { return remote })
					if err != nil || res.Kept {
						return nil, errRefused // the other side kept its session
					}
					return local, nil
				})
			})
		}
		for i := range 2 {
			nodes[i].AddPeer(keys[1-i], netip.AddrPort{}, false)
		}
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nodes[i].Connect(context.Background(), keys[1-i]) // ErrKept and refusals are expected
			}()
		}
		wg.Wait()
		var ids [2]uint64
		for i := range 2 {
			s := nodes[i].Table().Session(keys[1-i])
			if s == nil || !s.IsAlive() {
				t.Fatalf("round %d: node %d has no live session", round, i)
			}
			ids[i] = sessID(s)
		}
		if ids[0] != ids[1] {
			t.Fatalf("round %d: node 0 kept connection %d, node 1 kept %d", round, ids[0], ids[1])
		}
		if ids[0] != uint64(100+round) {
			t.Fatalf("round %d: kept %d, want %d (initiated by the lower key)", round, ids[0], 100+round)
		}
		for i := range 2 {
			if err := nodes[i].Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCallbacksMayReenterTheNode: every callback calls back into the node
// (stats, broadcast, disconnect, lookups) through a connect, a disconnect, a
// supervised redial and Close. A node that held any of its locks — the
// registry's peer lock, a table shard, a wheel shard — across a callback
// would deadlock here.
func TestCallbacksMayReenterTheNode(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	var n *testNode
	reenter := func(p *core.Peer) {
		_ = n.Stats()
		n.Broadcast(func(q *core.Peer, s core.Session) bool { _ = q.Session(); return true })
		if q, ok := n.Table().Load(p.Key()); ok {
			_ = q.State()
		}
	}
	connected := make(chan core.Session, 16)
	disconnected := make(chan struct{}, 16)
	attempted := make(chan struct{}, 16)
	n = newTestNode(t, keyN(1), func(c *core.Config) {
		c.OnConnect = func(p *core.Peer, s core.Session, _ context.Context) {
			reenter(p)
			connected <- s
		}
		c.OnDisconnect = func(p *core.Peer, s core.Session, _ error) {
			reenter(p)
			_, _ = n.Disconnect(p.Key()) // nothing left to end: must not deadlock
			disconnected <- struct{}{}
		}
		c.OnStateChange = func(p *core.Peer, _, _ core.State) { reenter(p) }
		c.OnReconnectAttempt = func(p *core.Peer, _ int) {
			reenter(p)
			attempted <- struct{}{}
		}
	})
	answer := func(id uint64) {
		go func() {
			c := <-n.dialer.Calls
			c.Return(sessiontest.New(id), nil)
		}()
	}
	answer(1)
	p, err := n.AddPeer(keyN(2), netip.AddrPort{}, true)
	if err != nil {
		t.Fatal(err)
	}
	(<-connected).(*sessiontest.Session).Kill()
	<-disconnected
	answer(2)
	n.advanceTo(t, p.NextRetry().Add(time.Millisecond))
	<-attempted
	<-connected
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	<-disconnected
}

// TestAcceptMovesAddress: an authenticated connection from a new address
// moves the peer there; the receive path then finds it by the new address
// only.
func TestAcceptMovesAddress(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil)
	defer tn.Close()
	a, b := addrN(1), addrN(2)
	peer := keyN(2)
	if _, err := tn.AcceptSession(peer, a, func() core.Session { return sessiontest.New(1) }); err != nil {
		t.Fatal(err)
	}
	p, _ := tn.Table().Load(peer)
	if got, _ := tn.Table().LoadByAddr(a); got != p {
		t.Fatal("not found by its first address")
	}
	if _, err := tn.AcceptSession(peer, b, func() core.Session { return sessiontest.New(2) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := tn.Table().LoadByAddr(b); got != p || p.Addr() != b {
		t.Fatal("not found by its new address")
	}
	if _, ok := tn.Table().LoadByAddr(a); ok {
		t.Fatal("still found by its old address")
	}
}
