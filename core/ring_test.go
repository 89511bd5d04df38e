package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
	"github.com/petrel-transport/petrel/ring"
)

// hookCounts counts the ring hooks a node fires.
type hookCounts struct{ reserve, promote, drop, expire atomic.Int64 }

func (h *hookCounts) hooks() ring.Hooks[core.PeerKey] {
	return ring.Hooks[core.PeerKey]{
		Reserve: func(core.PeerKey, ring.Location) { h.reserve.Add(1) },
		Promote: func(core.PeerKey, ring.Location) { h.promote.Add(1) },
		Drop:    func(core.PeerKey, ring.State) { h.drop.Add(1) },
		Expire:  func(core.PeerKey, monotime.Time) { h.expire.Add(1) },
	}
}

func (h *hookCounts) String() string {
	return fmt.Sprintf("reserve %d promote %d drop %d expire %d", h.reserve.Load(), h.promote.Load(), h.drop.Load(), h.expire.Load())
}

// reasonsByPeer records OnDisconnect reasons per peer key.
type reasonsByPeer struct {
	mu sync.Mutex
	m  map[core.PeerKey][]error
}

func (r *reasonsByPeer) record(p *core.Peer, _ core.Session, why error) {
	r.mu.Lock()
	if r.m == nil {
		r.m = make(map[core.PeerKey][]error)
	}
	r.m[p.Key()] = append(r.m[p.Key()], why)
	r.mu.Unlock()
}

func (r *reasonsByPeer) of(k core.PeerKey) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.m[k]...)
}

// ringState returns the ring state n holds for peer k.
func ringState(n *core.Node, k core.PeerKey) ring.State {
	p, ok := n.Table().Load(k)
	if !ok {
		return ring.StateNone
	}
	return p.RingState()
}

// TestRingTransientAndEstablished walks a hub node with a ring topology
// through every transition a connection can take: transient on both sides
// at first; promoted into the established set (Closest finds it); expired
// at TransientTTL when nobody promotes it; refused over TransientBudget
// (a clear error on both sides); at MaxEstablished, a nearer peer evicts
// the furthest and a farther one is refused. The hooks count each change.
func TestRingTransientAndEstablished(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 9, netem.Config{Delay: 2 * time.Millisecond})
		const (
			ttl    = 5 * time.Second
			budget = 3
			self   = ring.Location(0)
		)
		var hooks hookCounts
		var why reasonsByPeer
		hub := simNode(t, nw, "10.0.0.1:4000", core.Config{
			Ring: core.RingConfig{
				Enabled: true, Location: self, MinEstablished: 1, MaxEstablished: 2,
				TransientTTL: ttl, TransientBudget: budget, Hooks: hooks.hooks(),
			},
			OnDisconnect: why.record,
		})
		defer hub.Close()
		// The peers have a ring topology too (their side of each connection
		// is transient) with the default 30 s TTL, longer than this test
		// runs in virtual time, so only the hub's decisions end connections.
		peers := make([]*core.Node, 6)
		for i := range peers {
			peers[i] = simNode(t, nw, fmt.Sprintf("10.0.1.%d:4000", i+1), core.Config{Ring: core.RingConfig{Enabled: true}})
			defer peers[i].Close()
		}
		key := func(i int) core.PeerKey { return peers[i].LocalKey() }
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		conns := make([][2]*core.Conn, len(peers)) // [peer side, hub side]
		dial := func(i int) {
			t.Helper()
			c, hc := connect(t, ctx, peers[i], hub)
			conns[i] = [2]*core.Conn{c, hc}
		}

		// 1. A new connection is transient on both sides.
		dial(0)
		if s, ps := ringState(hub, key(0)), ringState(peers[0], hub.LocalKey()); s != ring.StateTransient || ps != ring.StateTransient {
			t.Fatalf("new connection: hub sees %v, peer sees %v; want transient on both", s, ps)
		}
		if st := hub.Stats().Ring.Transient; st.Count != 1 || st.Reserved != 1 {
			t.Errorf("hub transient stats after one connection: %+v", st)
		}
		// 2. Promote: established, found by Closest.
		loc := []ring.Location{1 << 60, 0, 1 << 62, 1 << 58, 1 << 63}
		if err := hub.Promote(key(0), loc[0]); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if err := peers[0].Promote(hub.LocalKey(), self); err != nil {
			t.Fatalf("Promote on the peer's side: %v", err)
		}
		if s := ringState(hub, key(0)); s != ring.StateEstablished {
			t.Errorf("after Promote: %v", s)
		}
		if nb := hub.Closest(loc[0], 3, nil); len(nb) != 1 || nb[0].Key != key(0) || nb[0].Loc != loc[0] {
			t.Errorf("Closest: %+v, want the promoted peer at %v", nb, loc[0])
		}
		if st := hub.Stats().Ring; st.Transient.Count != 0 || st.Established != 1 || st.Deficit != 0 {
			t.Errorf("ring stats after the promotion: %+v", st)
		}

		// 3. An unpromoted connection ends at the TTL, with ErrTransientExpired.
		start := time.Now()
		dial(1)
		for conns[1][1].IsAlive() && time.Since(start) < 2*ttl {
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(start); d < ttl || d > ttl+100*time.Millisecond {
			t.Errorf("the transient connection ended %v after it began, want at the %v TTL", d, ttl)
		}
		if r := why.of(key(1)); len(r) != 1 || !errors.Is(r[0], core.ErrTransientExpired) {
			t.Errorf("hub's disconnect reasons for the expired peer: %v", r)
		}
		if err := conns[1][1].Err(); !errors.Is(err, core.ErrTransientExpired) {
			t.Errorf("the expired connection's Err: %v, want ErrTransientExpired", err)
		}
		time.Sleep(100 * time.Millisecond) // the CLOSE reaches the peer
		var closed *session.PeerClosedError
		if err := conns[1][0].Err(); !errors.As(err, &closed) || !strings.Contains(closed.Reason, "transient") {
			t.Errorf("the peer of the expired connection learned %v, want the reason in the CLOSE", err)
		}
		if conns[1][0].IsAlive() {
			t.Errorf("the peer's side of the expired connection is alive")
		}
		t.Logf("expired: hub conn err %v, peer conn err %v", conns[1][1].Err(), conns[1][0].Err())
		if s := ringState(hub, key(1)); s == ring.StateTransient || s == ring.StateEstablished {
			t.Errorf("the expired peer is still %v", s)
		}
		if st := hub.Stats().Ring.Transient; st.Count != 0 || st.Expired != 1 {
			t.Errorf("transient stats after the expiry: %+v", st)
		}

		// 4. Over the budget, a new peer is refused on both sides.
		for i := 2; i < 2+budget; i++ {
			dial(i)
		}
		before := hub.Stats()
		if before.Ring.Transient.Count != budget {
			t.Fatalf("transient count %d, want the budget %d", before.Ring.Transient.Count, budget)
		}
		_, err := peers[5].Dial(ctx, hub.Addr().String(), hub.LocalKey())
		var refused *secure.RefusedError
		if !errors.As(err, &refused) || refused.Reason != secure.RefuseBusy {
			t.Errorf("dial over the budget: %v, want a *secure.RefusedError with RefuseBusy", err)
		}
		after := hub.Stats()
		if after.Transport.Drops.OverBudget != before.Transport.Drops.OverBudget+1 {
			t.Errorf("OverBudget drops %d -> %d, want one more", before.Transport.Drops.OverBudget, after.Transport.Drops.OverBudget)
		}
		if after.Ring.Transient.Rejected != before.Ring.Transient.Rejected+1 {
			t.Errorf("transient rejections %d -> %d, want one more", before.Ring.Transient.Rejected, after.Ring.Transient.Rejected)
		}
		if after.Ring.Transient.Count != budget {
			t.Errorf("transient count %d after the refusal", after.Ring.Transient.Count)
		}
		if s := ringState(peers[5], hub.LocalKey()); s == ring.StateTransient {
			t.Errorf("the refused dialler kept its transient reservation")
		}
		if st := peers[5].Stats().Ring.Transient; st.Count != 0 {
			t.Errorf("the refused dialler holds %d reservations", st.Count)
		}

		// 5. The established set at MaxEstablished (2).
		if err := hub.Promote(key(2), loc[2]); err != nil {
			t.Fatalf("Promote to fill the set: %v", err)
		}
		// Nearer than the furthest member (key 2 at 2^62): evicts it.
		if err := hub.Promote(key(3), loc[3]); err != nil {
			t.Fatalf("Promote of a nearer peer into the full set: %v", err)
		}
		if r := why.of(key(2)); len(r) != 1 || !errors.Is(r[0], core.ErrEvicted) {
			t.Errorf("evicted peer's disconnect reasons: %v", r)
		}
		if conns[2][1].IsAlive() {
			t.Errorf("the evicted connection is alive")
		}
		if s := ringState(hub, key(2)); s != ring.StateNone {
			t.Errorf("evicted peer's state: %v", s)
		}
		// Farther than every member: refused, and it stays transient.
		if err := hub.Promote(key(4), loc[4]); !errors.Is(err, ring.ErrEstablishedFull) {
			t.Errorf("Promote of a farther peer into the full set: %v, want ring.ErrEstablishedFull", err)
		}
		if s := ringState(hub, key(4)); s != ring.StateTransient {
			t.Errorf("refused promotion left the peer %v", s)
		}
		nb := hub.Closest(self, 5, nil)
		if len(nb) != 2 || nb[0].Key != key(3) || nb[1].Key != key(0) {
			t.Errorf("Closest(self) = %+v, want key 3 then key 0", nb)
		}

		// The hooks: reserve for peers 0..4 (5), promote 0, 2, 3 (3), drop
		// of the evicted peer 2 and of the expired peer 1's slot when its
		// session ended, expire of peer 1.
		time.Sleep(100 * time.Millisecond)
		t.Logf("hooks: %v; ring stats %+v", &hooks, hub.Stats().Ring)
		if hooks.reserve.Load() != 5 || hooks.promote.Load() != 3 || hooks.expire.Load() != 1 {
			t.Errorf("hooks: %v; want reserve 5, promote 3, expire 1", &hooks)
		}
		if d := hooks.drop.Load(); d < 1 {
			t.Errorf("drop hook fired %d times, want at least the eviction", d)
		}
		st := hub.Stats().Ring.Transient
		if st.Reserved != uint64(hooks.reserve.Load()) || st.Promoted != uint64(hooks.promote.Load()) ||
			st.Expired != uint64(hooks.expire.Load()) || st.Dropped != uint64(hooks.drop.Load()) {
			t.Errorf("stats %+v disagree with the hooks %v", st, &hooks)
		}
	})
}

// TestNoRingAcceptEstablishes: without a ring topology the responder's
// reservation bounds only connections handshaken but not yet accepted;
// Accept's return makes the connection established and returns it.
func TestNoRingAcceptEstablishes(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 10, netem.Config{Delay: 2 * time.Millisecond})
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		ctx := context.Background()
		ca, err := a.Dial(ctx, b.Addr().String(), b.LocalKey())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the dialler's first packet confirms it
		if n := b.Stats().Ring.Transient.Count; n != 1 {
			t.Errorf("before Accept the responder holds %d reservations, want 1", n)
		}
		if n := a.Stats().Ring.Transient.Count; n != 0 {
			t.Errorf("the dialler holds %d reservations without a ring topology", n)
		}
		cb, err := b.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st := b.Stats().Ring.Transient; st.Count != 0 {
			t.Errorf("after Accept the responder holds %d reservations (%+v)", st.Count, st)
		}
		if s := ringState(b, a.LocalKey()); s != ring.StateNone {
			t.Errorf("an accepted connection without a ring topology is %v", s)
		}
		if err := pumpMessages(ctx, ca, cb, 1, 10, 100); err != nil {
			t.Fatal(err)
		}
		// Past the default TTL nothing expires it.
		time.Sleep(ring.DefaultTransientTTL + time.Second)
		if !ca.IsAlive() || !cb.IsAlive() {
			t.Errorf("an accepted connection ended: %v / %v", ca.Err(), cb.Err())
		}
	})
}
