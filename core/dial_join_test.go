package core_test

import (
	"context"
	"errors"
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

// Two nodes that dial each other at the same instant both get the one
// connection the double-connection rule keeps, and it carries data. The
// simulation found two ways this failed (make sim SEED=1, messages #56
// and #57): the responder that keeps its own dial does not answer the
// other, so the losing Dial ended with NoAnswerError after DialTimeout
// though its node held the winning connection; and Dial returned the
// peer's connection before the peer confirmed it, so a retransmitted
// initiation replaced it (ErrReplaced) right after Dial returned it.
func TestCrossingDialsBothSucceed(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for seed := range uint64(40) {
		synctest.Test(t, func(t *testing.T) {
			nw := simNetwork(t, seed, netem.Config{Delay: 15 * time.Millisecond, Jitter: 6 * time.Millisecond, JitterReorders: true, Loss: 0.06})
			a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
			b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
			defer b.Close()
			defer a.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // virtual
			defer cancel()
			for _, n := range []*core.Node{a, b} {
				go func() {
					for {
						if _, err := n.Accept(ctx); err != nil {
							return
						}
					}
				}()
			}
			var ca, cb *core.Conn
			var errA, errB error
			var wg sync.WaitGroup
			wg.Go(func() { ca, errA = a.Dial(ctx, b.Addr().String(), b.LocalKey()) })
			wg.Go(func() { cb, errB = b.Dial(ctx, a.Addr().String(), a.LocalKey()) })
			wg.Wait()
			if errA != nil || errB != nil {
				t.Fatalf("seed %d: crossing dials: %v / %v", seed, errA, errB)
			}
			sa, sb := core.SessionOf(ca), core.SessionOf(cb)
			if sa.LocalCID() != sb.RemoteCID() || sb.LocalCID() != sa.RemoteCID() {
				t.Fatalf("seed %d: the two dials returned different connections", seed)
			}
			if err := ca.SendMessage(ctx, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if m, err := cb.ReceiveMessage(ctx); err != nil || string(m) != "x" {
				t.Fatalf("seed %d: %q, %v", seed, m, err)
			}
		})
	}
}

// Dials of one dead peer made at once all end after one DialTimeout with
// the shared dial's error: a joined Dial that woke to no connection used to
// dial again, so N of them took 1x, 2x, ... Nx the timeout.
func TestJoinedDialsShareTheFailure(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 6, netem.Config{Delay: 10 * time.Millisecond})
		const timeout = 2 * time.Second
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{DialTimeout: timeout})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer a.Close()
		addr, key := b.Addr().String(), b.LocalKey()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		const n = 3
		took := make([]time.Duration, n)
		errs := make([]error, n)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = a.Dial(context.Background(), addr, key)
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		for i := range n {
			var na *core.NoAnswerError
			if !errors.As(errs[i], &na) {
				t.Errorf("dial %d: %v, want a NoAnswerError", i, errs[i])
			}
			if took[i] > timeout+time.Second {
				t.Errorf("dial %d of a dead peer took %v of virtual time; DialTimeout is %v", i, took[i], timeout)
			}
		}
	})
}
