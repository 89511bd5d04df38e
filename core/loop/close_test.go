package loop

import (
	"context"
	"errors"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
)

// TestClose closes a receiving driver while datagrams pour in and a
// sending one while its WriteBatch runs: the writer ends with an error
// matching net.ErrClosed, no HandleBatch runs after Close returned, a
// second Close returns nil, WriteBatch after Close fails with
// net.ErrClosed, and no goroutine is left.
func TestClose(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) })
			rx := newSink(0, 1)
			b := open(t, k, Config{Loops: 2}, rx)
			a := open(t, k, Config{Loops: 2}, newSink(0, 0))
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()

			werr := make(chan error, 1)
			go func() {
				buf := make([]byte, 1200)
				msgs := make([]batchio.Message, 64)
				for i := range msgs {
					msgs[i] = batchio.Message{Buffer: encode(buf, 0, 1200), Addr: b.LocalAddr()}
				}
				for {
					if _, err := a.WriteBatch(msgs); err != nil {
						werr <- err
						return
					}
				}
			}()
			if err := rx.waitRecords(ctx, rx.notify[0], 1000); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("Close with traffic arriving: %v", err)
			}
			rx.closed.Store(true)
			if err := a.Close(); err != nil {
				t.Fatalf("Close with WriteBatch running: %v", err)
			}
			if err := <-werr; !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteBatch running at Close returned %v, want net.ErrClosed", err)
			}
			for _, d := range []driver{a, b} {
				if err := d.Close(); err != nil {
					t.Errorf("second Close = %v", err)
				}
				n, err := d.WriteBatch([]batchio.Message{{Buffer: []byte("x"), Addr: b.LocalAddr()}})
				if n != 0 || !errors.Is(err, net.ErrClosed) {
					t.Errorf("WriteBatch after Close = %d, %v; want 0, net.ErrClosed", n, err)
				}
			}
			if n := rx.late.Load(); n != 0 {
				t.Errorf("%d HandleBatch calls after Close returned", n)
			}
			if err := rx.err(); err != nil {
				t.Error(err)
			}
		})
	}
}
