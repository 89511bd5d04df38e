package core_test

// Byte streams end to end over real loopback sockets, once per driver, and
// once through the impairment relay (internal/relay: this kernel has no
// netem qdisc, so the relay is how a real-socket test gets a lossy path).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/netem"
	"github.com/petrel-transport/petrel/internal/relay"
)

// e2eStreamBytes is stream i's content: a log-uniform size from 64 KiB
// to maxSize (maxSize exactly when that is below), bytes from (seed, i).
func e2eStreamBytes(seed uint64, i, maxSize int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	const minSize = 64 << 10
	n := maxSize
	if maxSize > 1<<20 {
		n = int(math.Exp2(math.Log2(minSize) + r.Float64()*math.Log2(float64(maxSize)/minSize)))
	}
	b := make([]byte, n)
	for j := 0; j < n; j += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && j+k < n; k++ {
			b[j+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// streamsBothWays opens n streams from each side of (ca, cb) at once, each
// carrying e2eStreamBytes (a first byte names it), and checks every stream
// arrives whole (SHA-256) at the other side.
func streamsBothWays(t *testing.T, ctx context.Context, ca, cb *core.Conn, n, maxSize int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8*n)
	send := func(c *core.Conn, seed uint64) {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := c.OpenStream(ctx)
				if err != nil {
					errs <- err
					return
				}
				if _, err := st.Write([]byte{byte(i)}); err != nil {
					errs <- err
					return
				}
				if _, err := io.Copy(st, bytes.NewReader(e2eStreamBytes(seed, i, maxSize))); err != nil {
					errs <- err
					return
				}
				errs <- st.Close()
			}()
		}
	}
	recv := func(c *core.Conn, seed uint64) {
		for range n {
			st, err := c.AcceptStream(ctx)
			if err != nil {
				errs <- err
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var id [1]byte
				if _, err := io.ReadFull(st, id[:]); err != nil {
					errs <- err
					return
				}
				h := sha256.New()
				if _, err := io.Copy(h, st); err != nil {
					errs <- err
					return
				}
				if want := sha256.Sum256(e2eStreamBytes(seed, int(id[0]), maxSize)); !bytes.Equal(h.Sum(nil), want[:]) {
					errs <- errors.New("a stream arrived with different bytes")
					return
				}
				errs <- st.Close()
			}()
		}
	}
	send(ca, 1)
	send(cb, 2)
	wg.Add(2)
	go func() { defer wg.Done(); recv(cb, 1) }()
	go func() { defer wg.Done(); recv(ca, 2) }()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestE2EStreams: eight streams each way at once between two nodes on
// loopback, with both drivers; every byte arrives intact, and the
// connections are quiescent after.
func TestE2EStreams(t *testing.T) {
	for _, d := range e2eDrivers {
		t.Run(d.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
			defer cancel()
			a, b := e2eNode(t, d.driver), e2eNode(t, d.driver)
			defer closeNodes(t, []*core.Node{a, b})
			ca, cb := connect(t, ctx, a, b)
			streamsBothWays(t, ctx, ca, cb, 8, 4<<20)
			waitQuiescent(t, []*core.Conn{ca, cb})
			logConns(t, []*core.Conn{ca, cb}, false)
		})
	}
}

// TestE2EAbortThroughRelay is invariant 4 on real sockets through the
// relay (1% loss, 20 ms RTT): stream X fills the window and is aborted;
// its packets leave the flight at once (released by the abort, none given
// up by retransmission), and stream Y's megabyte then arrives whole.
func TestE2EAbortThroughRelay(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	a, b := e2eNode(t, core.DriverGnet), e2eNode(t, core.DriverGnet)
	defer closeNodes(t, []*core.Node{a, b})
	imp := netem.Config{Loss: 0.01, Delay: 10 * time.Millisecond, Seed: 1}
	rev := imp
	rev.Seed = 2
	r, err := relay.New(relay.Config{Target: b.Addr(), Forward: imp, Reverse: rev})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	accepted := make(chan *core.Conn, 1)
	go func() {
		c, err := b.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	ca, err := a.Dial(ctx, r.Addr().String(), b.LocalKey())
	if err != nil {
		t.Fatal(err)
	}
	cb := <-accepted
	if cb == nil {
		t.FailNow()
	}
	x, err := ca.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	xerr := make(chan error, 1)
	go func() {
		_, err := x.Write(make([]byte, 64<<20)) // far beyond any window here
		xerr <- err
	}()
	bx, err := cb.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until X has a window's worth in flight.
	for ca.Stats().InFlight < 32<<10 {
		if _, err := bx.Read(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	before := ca.Stats()
	x.Abort(99)
	after := ca.Stats()
	if after.AbortReleasedBytes == before.AbortReleasedBytes {
		t.Errorf("the abort of a stream with %d bytes in flight released none", before.InFlight)
	}
	var ae *core.StreamAbortError
	if err := <-xerr; !errors.As(err, &ae) || ae.Remote || ae.Code != 99 {
		t.Errorf("X's writer: %v, want its own abort", err)
	}
	if _, err := io.Copy(io.Discard, bx); !errors.As(err, &ae) || !ae.Remote || ae.Code != 99 {
		t.Errorf("X's reader: %v, want the peer's abort with code 99", err)
	}

	y, err := ca.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := e2eStreamBytes(5, 0, 1<<20) // exactly 1 MiB
	go func() {
		if _, err := y.Write(data); err != nil {
			t.Error(err)
		}
		y.Close()
	}()
	by, err := cb.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(by)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Y: %d bytes, %v; want %d intact", len(got), err, len(data))
	}
	waitQuiescent(t, []*core.Conn{ca, cb})
	if st := ca.Stats(); st.Tracker.Abandoned != 0 {
		t.Errorf("%d packets abandoned by retransmission: the abort should have dropped X's", st.Tracker.Abandoned)
	}
	t.Logf("abort released %d bytes; X's writer and reader saw code 99; Y's %d bytes arrived", after.AbortReleasedBytes-before.AbortReleasedBytes, len(data))
}
