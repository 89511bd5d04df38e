package core_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/netem"
)

// TestStreamAbortFreesWindowOverSimnet is DESIGN.md invariant 4 through the
// public API on the simulated network (virtual time): stream X fills the
// window while the path is cut and aborts on the window-wait timeout; its
// packets leave the flight at once (none given up by retransmission), so
// stream Y's first packets leave at the very instant Y writes (no virtual
// time passes), and Y's megabyte arrives whole once the path heals.
func TestStreamAbortFreesWindowOverSimnet(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 5, netem.Config{Delay: 10 * time.Millisecond})
		cfg := core.Config{IdleTimeout: 60 * time.Second, KeepaliveInterval: 10 * time.Second}
		a := simNode(t, nw, "10.0.0.1:4000", cfg)
		b := simNode(t, nw, "10.0.0.2:4000", cfg)
		defer b.Close()
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)

		x, err := ca.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Write(make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		bx, err := cb.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, bx)
		time.Sleep(100 * time.Millisecond) // virtual: the window opens up
		nw.Partition(a.Addr(), b.Addr())
		_, err = x.Write(make([]byte, 16<<20))
		if !errors.Is(err, core.ErrWindowWait) {
			t.Fatalf("writer of the stalled stream: %v, want core.ErrWindowWait", err)
		}
		st := ca.Stats()
		if st.AbortReleasedBytes == 0 || st.Tracker.Abandoned != 0 {
			t.Errorf("abort released %d flight bytes (want > 0); %d packets given up by retransmission (want 0)", st.AbortReleasedBytes, st.Tracker.Abandoned)
		}

		y, err := ca.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		data := e2eStreamBytes(6, 0, 1<<20)
		at, sent := time.Now(), ca.Stats().PacketsSent
		if _, err := y.Write(data); err != nil { // fits the send buffer: returns at once
			t.Fatal(err)
		}
		if time.Since(at) != 0 || ca.Stats().PacketsSent == sent {
			t.Fatalf("Y's first packet did not leave at once: %v later, %d packets sent", time.Since(at), ca.Stats().PacketsSent-sent)
		}
		y.Close()
		nw.Heal(a.Addr(), b.Addr())
		for {
			s, err := cb.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.ID() != y.ID() {
				continue
			}
			got, err := io.ReadAll(s)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Y: %d bytes, %v; want %d intact", len(got), err, len(data))
			}
			break
		}
	})
}
