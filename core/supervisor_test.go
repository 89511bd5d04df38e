package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"github.com/petrel-transport/petrel/internal/monotime"
	"go.uber.org/goleak"
)

var errRefused = errors.New("test: connection refused")

// refuseDials is a Dialer whose every dial fails with errRefused.
var refuseDials = core.DialerFunc(func(context.Context, *core.Peer) (core.Session, error) {
	return nil, errRefused
})

// connectThenDrop adds peer as persistent, answers its first dial with
// session 1, waits for the connect, then kills the session and waits for
// the disconnect: the supervisor has just armed the first redial.
func connectThenDrop(t *testing.T, tn *testNode, peer core.PeerKey) *core.Peer {
	t.Helper()
	go func() { (<-tn.dialer.Calls).Return(sessiontest.New(1), nil) }()
	p, err := tn.AddPeer(peer, netip.MustParseAddrPort("192.0.2.1:1"), true)
	if err != nil {
		t.Fatal(err)
	}
	tn.rec.waitFor(t, "connect", func(e event) bool { return e.kind == "connect" })
	p.Session().(*sessiontest.Session).Kill()
	tn.rec.waitFor(t, "disconnect", func(e event) bool { return e.kind == "disconnect" })
	return p
}

// backoffRun connects a persistent peer, kills its session, then fails
// `failures` redials in a row and returns the delays the supervisor chose
// and the attempt numbers it reported. Then one redial succeeds, the session
// dies again, and the delay after that (which must restart from the base) is
// appended.
func backoffRun(t *testing.T, seed uint64, failures int) (delays []time.Duration, attempts []int) {
	t.Helper()
	tn := newTestNode(t, keyN(1), func(c *core.Config) { c.Rand = rand.New(rand.NewPCG(seed, 9)) })
	defer tn.Close()
	peer := keyN(2)
	answer := func(s core.Session, err error) {
		c := <-tn.dialer.Calls
		c.Return(s, err)
	}
	p := connectThenDrop(t, tn, peer)

	now := tn.clk.Now()
	for i := 0; i <= failures; i++ {
		at := p.NextRetry()
		delays = append(delays, at.Sub(now))
		// The wheel fires at the deadline rounded up to its 1 ms tick.
		at = at.Add(time.Millisecond - 1)
		now = at
		if i == failures {
			go answer(sessiontest.New(2), nil)
		} else {
			go answer(nil, errRefused)
		}
		tn.advanceTo(t, at)
		attempts = append(attempts, tn.rec.waitFor(t, "attempt", func(e event) bool { return e.kind == "attempt" }).attempt)
		if i < failures {
			// The retry is armed before the state returns to Disconnected.
			tn.rec.waitFor(t, "dial failed", func(e event) bool { return e.kind == "state" && e.to == core.Disconnected })
			if h := p.Health(); h.Failures != i+1 {
				t.Errorf("health after failure %d: %+v", i+1, h)
			}
		}
	}
	tn.rec.waitFor(t, "reconnect", func(e event) bool { return e.kind == "connect" && e.id == 2 })
	if h := p.Health(); h.Failures != 0 {
		t.Errorf("health after a successful redial: %+v, want the failures reset", h)
	}
	p.Session().(*sessiontest.Session).Kill()
	tn.rec.waitFor(t, "disconnect 2", func(e event) bool { return e.kind == "disconnect" && e.id == 2 })
	delays = append(delays, p.NextRetry().Sub(now))
	return delays, attempts
}

// TestBackoffSequence checks the supervisor's redial delays on a fake clock:
// each within the jitter bounds of d = min(base*2^k, max), that is
// [d*(1-j), min(d*(1+j), max)] — the cap bounds the final delay, so no redial
// waits past it — actually jittered, reproducible from the seed, reset after
// a success. (Seed 42 draws above the cap for capped delays, which a cap
// applied before jitter turns into delays of up to 72 s.)
func TestBackoffSequence(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const failures = 10 // 500ms * 2^7 > 60 s: the cap is reached
	delays, attempts := backoffRun(t, 42, failures)
	j := core.DefaultBackoffJitter
	jittered := false
	for k := 0; k <= failures+1; k++ {
		kk := k
		if k == failures+1 {
			kk = 0 // after the success the backoff starts over
		}
		nominal := min(core.DefaultBackoffBase<<kk, core.DefaultBackoffMax)
		lo := time.Duration(float64(nominal) * (1 - j))
		hi := min(time.Duration(float64(nominal)*(1+j)), core.DefaultBackoffMax)
		if d := delays[k]; d < lo || d > hi {
			t.Errorf("delay %d = %v, want in [%v, %v] (nominal %v; the cap %v bounds the jittered delay)",
				k, d, lo, hi, nominal, core.DefaultBackoffMax)
		}
		if delays[k] != nominal {
			jittered = true
		}
		if k <= failures && attempts[k] != k {
			t.Errorf("attempt %d reported as %d", k, attempts[k])
		}
	}
	if !jittered {
		t.Error("no delay was jittered")
	}
	again, _ := backoffRun(t, 42, failures)
	for k := range delays {
		if again[k] != delays[k] {
			t.Fatalf("same seed, different delay %d: %v vs %v", k, delays[k], again[k])
		}
	}
}

// TestRetentionBoundary: a session that starts less than Retention after the
// previous one ended resumes with the kept estimates; at or past Retention it
// starts fresh.
func TestRetentionBoundary(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	kept := core.Estimates{RTT: 42 * time.Millisecond, Cwnd: 64 << 10}
	tests := []struct {
		name   string
		after  time.Duration
		resume bool
	}{
		{"immediately", 0, true},
		{"one ns inside retention", core.DefaultRetention - 1, true},
		{"exactly at retention", core.DefaultRetention, false},
		{"past retention", core.DefaultRetention + time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNode(t, keyN(1), nil)
			defer tn.Close()
			peer := keyN(2)
			s1 := sessiontest.New(1)
			s1.SetEstimates(kept)
			tn.accept(t, peer, s1)
			ended := tn.clk.Now().Add(time.Second)
			tn.clk.Set(ended)
			if ok, err := tn.Disconnect(peer); !ok || err != nil {
				t.Fatalf("Disconnect: %v %v", ok, err)
			}
			p, _ := tn.Table().Load(peer)
			if est, at := p.Retained(); est != kept || at != ended {
				t.Fatalf("retained %+v at %v, want %+v at %v", est, at, kept, ended)
			}
			tn.clk.Set(ended.Add(tc.after))
			var seen core.Estimates
			tn.AcceptSession(peer, netip.AddrPort{}, func() core.Session {
				seen, _ = p.Retained() // what a new session would be seeded with
				return sessiontest.New(2)
			})
			if want := (core.Estimates{}); tc.resume {
				if seen != kept {
					t.Fatalf("resumed with %+v, want %+v", seen, kept)
				}
			} else if seen != want {
				t.Fatalf("fresh start kept %+v", seen)
			}
		})
	}
}

// TestForgetAfterRetention: a disconnected record that is not persistent is
// forgotten by its liveness timer exactly when retention ends; a persistent
// one is kept.
func TestForgetAfterRetention(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), func(c *core.Config) { c.BackoffBase = time.Hour; c.BackoffMax = time.Hour })
	defer tn.Close()
	transient, persistent := keyN(2), keyN(3)
	tn.accept(t, transient, sessiontest.New(1))
	tn.accept(t, persistent, sessiontest.New(2))
	if _, err := tn.AddPeer(persistent, netip.AddrPort{}, true); err != nil {
		t.Fatal(err)
	}
	tn.Disconnect(transient)
	tn.Disconnect(persistent)
	ended := tn.clk.Now()
	tick := core.Config{}.Tick
	if tick == 0 {
		tick = time.Millisecond
	}

	tn.advanceTo(t, ended.Add(core.DefaultRetention-tick))
	if _, ok := tn.Table().Load(transient); !ok {
		t.Fatal("forgotten before retention ended")
	}
	tn.advanceTo(t, ended.Add(core.DefaultRetention))
	if p, ok := tn.Table().Load(transient); ok {
		t.Fatalf("not forgotten at retention end (state %v)", p.State())
	}
	tn.advanceTo(t, ended.Add(2*core.DefaultRetention)) // the persistent peer's redial is an hour away
	if _, ok := tn.Table().Load(persistent); !ok {
		t.Fatal("persistent peer forgotten")
	}
}

// TestReaperKeepaliveAndIdle walks one connected peer through keepalive and
// reaping on a fake clock; touches never arm timers, the timer re-arms
// itself lazily from last-seen.
func TestReaperKeepaliveAndIdle(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil)
	defer tn.Close()
	K, I := core.DefaultKeepaliveInterval, core.DefaultIdleTimeout
	s := sessiontest.New(1)
	tn.accept(t, keyN(2), s)
	p, _ := tn.Table().Load(keyN(2))

	tn.advanceTo(t, t0.Add(K-time.Millisecond))
	if s.Keepalives() != 0 {
		t.Fatal("keepalive before the interval")
	}
	tn.advanceTo(t, t0.Add(K))
	if s.Keepalives() != 1 {
		t.Fatalf("keepalives = %d at K, want 1", s.Keepalives())
	}
	seen := t0.Add(K + time.Second)
	for range 1000 {
		p.Touch(seen) // many packets: no timer work
	}
	tn.advanceTo(t, t0.Add(2*K))
	if s.Keepalives() != 1 {
		t.Fatal("keepalive sent although the peer was heard from recently")
	}
	tn.advanceTo(t, seen.Add(K))
	if s.Keepalives() != 2 {
		t.Fatalf("keepalives = %d, want 2", s.Keepalives())
	}
	tn.advanceTo(t, seen.Add(I-time.Millisecond))
	if !s.IsAlive() {
		t.Fatal("reaped before the idle timeout")
	}
	tn.advanceTo(t, seen.Add(I))
	e := tn.rec.waitFor(t, "reap", func(e event) bool { return e.kind == "disconnect" })
	if !errors.Is(e.reason, core.ErrIdleTimeout) || s.IsAlive() {
		t.Fatalf("not reaped at idle timeout: %v", e.reason)
	}
}

// TestReaperCostIsPerExpiredPeer: a wheel advance runs callbacks only for
// the peers whose timers are due, however many peers are connected. A reaper
// that scans the table each tick would visit all of them.
func TestReaperCostIsPerExpiredPeer(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const peers = 400
	tn := newTestNode(t, keyN(0), nil)
	defer tn.Close()
	K := core.DefaultKeepaliveInterval
	for i := range peers {
		tn.clk.Set(t0.Add(time.Duration(i) * time.Millisecond)) // staggered last-seen
		tn.accept(t, keyN(uint64(i+1)), sessiontest.New(uint64(i+1)))
	}
	tests := []struct {
		at   monotime.Time
		want int
	}{
		{t0.Add(K / 2), 0},                    // nothing due
		{t0.Add(K + 9*time.Millisecond), 10},  // peers 0..9
		{t0.Add(K + 9*time.Millisecond), 0},   // same instant again: nothing
		{t0.Add(K + 29*time.Millisecond), 20}, // peers 10..29
		{t0.Add(K + time.Duration(peers-1)*time.Millisecond), peers - 30},
	}
	for _, tc := range tests {
		if got := tn.advanceTo(t, tc.at); got != tc.want {
			t.Fatalf("advance to %v fired %d timers, want %d (of %d peers)", tc.at.Sub(t0), got, tc.want, peers)
		}
	}
}

// TestReaperCostIndependentOfLivePeers is the issue's "reaping costs
// O(expired peers) per tick, never O(all peers)" as a comparison: the same
// E stale peers sit among n and then 10n live peers, and the Advance that
// reaps them (and the earlier one that sends them their keepalive) must
// visit exactly E peers in both cases: the timers fired per Advance (each
// one a liveness callback, i.e. one peer visited) and the sessions reaped
// are equal for n and 10n, and no live peer is touched. A reaper that scans
// the table per tick would visit n+E, then 10n+E.
func TestReaperCostIndependentOfLivePeers(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const stale = 10
	K, I := core.DefaultKeepaliveInterval, core.DefaultIdleTimeout
	type cost struct{ keepaliveTick, reapTick, reaped, liveKeepalives int }
	run := func(t *testing.T, live int) cost {
		tn := newTestNode(t, keyN(0), func(c *core.Config) { c.OnStateChange = nil })
		defer tn.Close()
		for i := range stale { // silent from t0 on
			tn.accept(t, keyN(uint64(1+i)), sessiontest.New(uint64(1+i)))
		}
		// The live peers connect half an interval later and stay busy, so
		// their timers are never due at the stale peers' instants
		// (t0+K, t0+I = t0+4K versus t0+K/2+mK).
		tn.clk.Set(t0.Add(K / 2))
		liveSess := make([]*sessiontest.Session, live)
		livePeers := make([]*core.Peer, live)
		for i := range live {
			key := keyN(uint64(1000 + i))
			liveSess[i] = sessiontest.New(uint64(1000 + i))
			tn.accept(t, key, liveSess[i])
			livePeers[i], _ = tn.Table().Load(key)
		}
		var c cost
		c.keepaliveTick = tn.advanceTo(t, t0.Add(K))
		// Walk to one tick before the reap, keeping the live peers busy.
		for at := t0.Add(K); at < t0.Add(I-time.Millisecond); {
			at = min(at.Add(K/4), t0.Add(I-time.Millisecond))
			for _, p := range livePeers {
				p.Touch(at)
			}
			tn.advanceTo(t, at)
		}
		before := 0
		for _, s := range liveSess {
			before += s.Keepalives()
		}
		c.reapTick = tn.advanceTo(t, t0.Add(I))
		for i := range stale {
			_, d := tn.rec.counts(uint64(1 + i))
			c.reaped += d
		}
		for _, s := range liveSess {
			c.liveKeepalives += s.Keepalives()
			if !s.IsAlive() {
				t.Fatal("a live peer was reaped")
			}
		}
		c.liveKeepalives -= before
		return c
	}
	const n = 100
	small := run(t, n)
	big := run(t, 10*n)
	t.Logf("n=%d: %+v; 10n=%d: %+v", n, small, 10*n, big)
	for _, tc := range []struct {
		name string
		c    cost
	}{{"n", small}, {"10n", big}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.keepaliveTick != stale || tc.c.reapTick != stale {
				t.Errorf("peers visited: %d at the keepalive tick, %d at the reap tick; want %d each (the stale peers only)",
					tc.c.keepaliveTick, tc.c.reapTick, stale)
			}
			if tc.c.reaped != stale {
				t.Errorf("%d stale peers reaped, want %d", tc.c.reaped, stale)
			}
			if tc.c.liveKeepalives != 0 {
				t.Errorf("the reap tick sent %d keepalives to live peers", tc.c.liveKeepalives)
			}
		})
	}
	if small.reapTick != big.reapTick || small.keepaliveTick != big.keepaliveTick {
		t.Errorf("cost per tick grew with the live peers: n -> %+v, 10n -> %+v", small, big)
	}
}

// TestRetryDuringUserDialReportsNextRetry: when the retry timer fires while
// a user's Connect is still dialling, the supervisor re-arms the retry, and
// Health().NextRetry must say when that re-armed retry is due, not the time
// that has just passed.
func TestRetryDuringUserDialReportsNextRetry(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	tn := newTestNode(t, keyN(1), nil)
	defer tn.Close()
	peer := keyN(2)
	p := connectThenDrop(t, tn, peer)

	first := p.NextRetry()
	connectDone := make(chan error, 1)
	go func() { _, err := tn.Connect(t.Context(), peer); connectDone <- err }()
	userDial := <-tn.dialer.Calls // the user's dial is now in flight, unanswered

	due := first.Add(time.Millisecond - 1) // the wheel fires on its 1 ms grid
	tn.advanceTo(t, due)
	tn.rec.waitFor(t, "attempt", func(e event) bool { return e.kind == "attempt" })
	if next := p.NextRetry(); !next.After(due) {
		t.Errorf("NextRetry = %v after the retry fired at %v during a dial: want the re-armed time, after it", next, due)
	}
	userDial.Return(nil, errRefused)
	if err := <-connectDone; err == nil {
		t.Fatal("Connect succeeded with a refused dial")
	}
}
