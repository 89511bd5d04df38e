package core_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/internal/netem"
)

// TestTransportPersistentPeerRedialled: the core issue's supervision over
// the real engine. A persistent peer whose node restarts is redialled by
// the supervisor with no call from the application, and the new
// connection carries messages.
func TestTransportPersistentPeerRedialled(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 2, netem.Config{Delay: 5 * time.Millisecond})
		kp, err := secure.GenerateKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		connected := make(chan core.Session, 4)
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{
			OnConnect: func(_ *core.Peer, s core.Session, _ context.Context) { connected <- s },
		})
		defer a.Close()
		kb := kp
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{Transport: core.TransportConfig{Identity: &kb}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		// A persistent peer is dialled by the supervisor from the start.
		if _, err := a.AddPeer(b.LocalKey(), b.Addr(), true); err != nil {
			t.Fatal(err)
		}
		first := (<-connected).(*core.Conn)
		cb, err := b.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := pumpMessages(ctx, first, cb, 1, 10, 500); err != nil {
			t.Fatal(err)
		}

		// B restarts: its node closes (its CLOSE tells A) and comes back
		// with the same key at the same address.
		b.Close()
		kb2 := kp
		b2 := simNode(t, nw, "10.0.0.2:4000", core.Config{Transport: core.TransportConfig{Identity: &kb2}})
		defer b2.Close()
		start := time.Now()
		var second *core.Conn
		select {
		case s := <-connected:
			second = s.(*core.Conn)
		case <-ctx.Done():
			t.Fatal("the supervisor never redialled the persistent peer")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("redialled after %v", d) // virtual time: exact
		}
		if first.IsAlive() || second == first {
			t.Fatal("the old connection survived the restart")
		}
		cb2, err := b2.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := pumpMessages(ctx, second, cb2, 2, 10, 500); err != nil {
			t.Fatal(err)
		}
		if h := a.Stats().Counters; h.Connects < 2 {
			t.Errorf("counters %+v: want two connects", h)
		}
	})
}
