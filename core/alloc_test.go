package core_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestAllocsMessageRoundTrip: through the whole stack — SendMessage, the
// engine's send path, simnet, the receiving engine's HandleBatch routing
// the batch to the session, ACKs back, ReceiveMessageInto — a warm
// connection moves a message that fits a packet without allocating, on
// either node. (testing.AllocsPerRun counts every goroutine's allocations:
// both nodes, their wheels and the network's delivery goroutines.)
func TestAllocsMessageRoundTrip(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts under the race detector: make test runs the allocation tests again without it")
	}
	nw, err := simnet.New(simnet.Config{Seed: 1, Clock: monotime.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	open := func(addr string) *core.Node {
		ap := netip.MustParseAddrPort(addr)
		n, err := core.ListenDriver(func(h core.Handler) (core.Driver, error) { return nw.Listen(ap, h) }, core.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b := open("10.0.0.1:1"), open("10.0.0.2:1")
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca, cb := connect(t, ctx, a, b)
	msg := make([]byte, 1000)
	reply := make([]byte, 0, 2048)
	round := func() {
		if err := ca.SendMessage(ctx, msg); err != nil {
			t.Fatal(err)
		}
		var err error
		if reply, err = cb.ReceiveMessageInto(ctx, reply); err != nil {
			t.Fatal(err)
		}
		if err := cb.SendMessage(ctx, reply); err != nil {
			t.Fatal(err)
		}
		if reply, err = ca.ReceiveMessageInto(ctx, reply); err != nil {
			t.Fatal(err)
		}
	}
	for range 2000 {
		round()
	}
	got := testing.AllocsPerRun(1000, round)
	t.Logf("%.3f allocations per round trip of two one-packet messages", got)
	// Timers and goroutine handoffs of the runtime can allocate now and
	// then (a timer heap growing, a goroutine's stack); the engine's own
	// path must not: well under one allocation per round trip.
	if got >= 0.1 {
		t.Errorf("%.3f allocations per round trip, want 0", got)
	}
}
