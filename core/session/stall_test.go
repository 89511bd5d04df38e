package session_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// TestLossySeeds exchanges messages both ways over lossy, reordering paths
// under many seeds. It caught two stalls: a lost range whose original was
// acknowledged late was dropped from the retransmission queue without being
// retired (the stream's acknowledged base stopped for good), and a flight
// sent after everything was acknowledged had no probe timeout armed, so
// losing it whole stopped the session until the idle timeout.
func TestLossySeeds(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			imp := netem.Config{Loss: 0.05, Delay: 10 * time.Millisecond, Jitter: 3 * time.Millisecond, JitterReorders: true, Duplicate: 0.01, Seed: seed}
			imp2 := imp
			imp2.Seed = seed + 1000
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, pairConfig{ab: imp, ba: imp2})
				defer p.stop()
				exchange(t, p, 120, 64<<10)
				quiesce(t, p)
			})
		})
	}
}

// TestWholeFlightLost: every packet of a message sent after the path went
// quiet is lost; the probe timeout armed when it was sent recovers it.
func TestWholeFlightLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No keepalives: a PING's ACK would reveal the gap and hide a
		// missing probe timeout behind a 10 s recovery.
		p := newPair(t, pairConfig{
			ab: netem.Config{Delay: 5 * time.Millisecond}, ba: netem.Config{Delay: 5 * time.Millisecond},
			cfgA: session.Config{KeepaliveInterval: -1}, cfgB: session.Config{KeepaliveInterval: -1},
		})
		var dropping atomic.Bool
		var dropped atomic.Int64
		p.ab.intercept = func([]byte) bool {
			if dropping.Load() {
				dropped.Add(1)
				return false
			}
			return true
		}
		defer p.stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.a.SendMessage(ctx, message(1, 0, 100)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.b.ReceiveMessage(ctx); err != nil {
			t.Fatal(err)
		}
		quiesce(t, p)
		time.Sleep(time.Second) // virtual: delayed ACKs leave; no timer has a reason to run
		dropping.Store(true)
		msg := message(1, 1, 5000)
		start := time.Now()
		if err := p.a.SendMessage(ctx, msg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(8 * time.Millisecond) // virtual: the flight arrives (5 ms) and is dropped
		dropping.Store(false)
		got, err := p.b.ReceiveMessage(ctx)
		if err != nil || len(got) != len(msg) {
			t.Fatalf("after losing the whole flight: %d bytes, %v\nA: %s", len(got), err, p.a.DebugState())
		}
		// Virtual time, exact in the bubble: a few probe timeouts of a 10 ms
		// path, not a keepalive's 10 s.
		if took := time.Since(start); took > time.Second {
			t.Errorf("recovered after %v", took)
		}
		if dropped.Load() == 0 {
			t.Fatal("nothing was dropped: the test did not test")
		}
		if st := p.a.Stats(); st.PTOs == 0 {
			t.Errorf("recovered without a probe timeout: %+v", st)
		}
		quiesce(t, p)
	})
}
