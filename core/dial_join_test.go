package core_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/netem"
)

// Dials of one peer made at once from several goroutines all return the
// one connection: a Dial that finds another in flight waits for it instead
// of failing with ErrDialInProgress. The simulation found it (make sim
// SEED=8 before the fix: two probes from node 6 to node 1 at the same
// instant, one refused).
func TestConcurrentDialsJoin(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 5, netem.Config{Delay: 10 * time.Millisecond})
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // virtual
		defer cancel()
		go func() {
			for {
				if _, err := b.Accept(ctx); err != nil {
					return
				}
			}
		}()
		const n = 4
		conns := make([]*core.Conn, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { conns[i], errs[i] = a.Dial(ctx, b.Addr().String(), b.LocalKey()) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("dial %d of %d at once: %v", i, n, errs[i])
			}
			if conns[i] != conns[0] {
				t.Errorf("dial %d returned another connection", i)
			}
		}
		if err := conns[0].SendMessage(ctx, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	})
}
