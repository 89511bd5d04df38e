package core_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"github.com/petrel-transport/petrel/internal/monotime"
)

const t0 = monotime.Time(1_000_000_000) // fake clock start

// event is one callback the recorder saw.
type event struct {
	kind     string // "connect", "disconnect", "attempt", "state"
	key      core.PeerKey
	id       uint64
	reason   error
	attempt  int
	from, to core.State
	ctx      context.Context
}

// recorder collects the Node's callbacks: counts per session and an event
// stream tests wait on (no sleeps: they block on the channel).
type recorder struct {
	mu          sync.Mutex
	connects    map[uint64]int
	disconnects map[uint64]int
	events      chan event
	// hooks, optional, run inside the callback
	onAttempt func(p *core.Peer, attempt int)
}

func newRecorder() *recorder {
	return &recorder{
		connects:    map[uint64]int{},
		disconnects: map[uint64]int{},
		events:      make(chan event, 8192),
	}
}

func (r *recorder) emit(e event) {
	select {
	case r.events <- e:
	default: // tests that flood callbacks do not wait on events
	}
}

func (r *recorder) install(cfg *core.Config) {
	cfg.OnConnect = func(p *core.Peer, s core.Session, ctx context.Context) {
		id := sessID(s)
		r.mu.Lock()
		r.connects[id]++
		r.mu.Unlock()
		r.emit(event{kind: "connect", key: p.Key(), id: id, ctx: ctx})
	}
	cfg.OnDisconnect = func(p *core.Peer, s core.Session, why error) {
		id := sessID(s)
		r.mu.Lock()
		r.disconnects[id]++
		r.mu.Unlock()
		r.emit(event{kind: "disconnect", key: p.Key(), id: id, reason: why})
	}
	cfg.OnReconnectAttempt = func(p *core.Peer, attempt int) {
		if r.onAttempt != nil {
			r.onAttempt(p, attempt)
		}
		r.emit(event{kind: "attempt", key: p.Key(), attempt: attempt})
	}
	cfg.OnStateChange = func(p *core.Peer, from, to core.State) {
		r.emit(event{kind: "state", key: p.Key(), from: from, to: to})
	}
}

// waitFor blocks until an event matching pred arrives (the test's timeout is
// the backstop) and returns it; other events are discarded.
func (r *recorder) waitFor(t *testing.T, what string, pred func(event) bool) event {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second) // a backstop against a hung test, not a timing assertion
	defer timeout.Stop()
	for {
		select {
		case e := <-r.events:
			t.Logf("event %s id=%d %v->%v att=%d", e.kind, e.id, e.from, e.to, e.attempt)
			if pred(e) {
				return e
			}
		case <-timeout.C:
			t.Fatalf("no %s event", what)
		}
	}
}

func (r *recorder) counts(id uint64) (connects, disconnects int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connects[id], r.disconnects[id]
}

// testNode is a Node on a fake clock, advanced by hand, with a scripted
// dialer and a recorder.
type testNode struct {
	*core.Node
	clk    *fakeClock
	dialer *sessiontest.Dialer
	rec    *recorder
	cfg    core.Config
}

func newTestNode(t *testing.T, local core.PeerKey, mod func(*core.Config)) *testNode {
	t.Helper()
	tn := &testNode{clk: newFakeClock(t0), dialer: sessiontest.NewDialer(), rec: newRecorder()}
	cfg := core.Config{
		Local:         local,
		Dialer:        tn.dialer,
		Clock:         tn.clk,
		ManualAdvance: true,
		Rand:          rand.New(rand.NewPCG(1, 2)),
	}
	tn.rec.install(&cfg)
	if mod != nil {
		mod(&cfg)
	}
	n, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.Node, tn.cfg = n, cfg
	return tn
}

// advanceTo moves the fake clock and the wheel to at.
func (tn *testNode) advanceTo(t *testing.T, at monotime.Time) int {
	t.Helper()
	tn.clk.Set(at)
	fired, err := tn.Advance(at)
	if err != nil {
		t.Fatal(err)
	}
	return fired
}

// accept installs session s from key as an incoming connection.
func (tn *testNode) accept(t *testing.T, key core.PeerKey, s *sessiontest.Session) core.SwapResult {
	t.Helper()
	res, err := tn.AcceptSession(key, netip.AddrPort{}, func() core.Session { return s })
	if err != nil {
		t.Fatal(err)
	}
	return res
}
