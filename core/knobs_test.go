package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/loop"
	"github.com/petrel-transport/petrel/core/secure"
)

// knobBytes is what TestTransportKnobs moves on one stream: enough for
// the sender to flush runs of full packets (GSO runs, mmsg batches).
const knobBytes = 2 << 20

// TestTransportKnobs: each mechanism BenchmarkAblation turns off is
// reachable from Config.Transport and takes effect on real sockets: a
// stream moves knobBytes intact over loopback, and the drivers' counters
// (or the connections' negotiated suite) show the mechanism on or off.
// The default line is the control: with everything on the same traffic
// uses GSO and batches, so the off lines' counts mean something.
func TestTransportKnobs(t *testing.T) {
	type ioCheck func(st batchio.Stats) error
	linux := runtime.GOOS == "linux"
	for _, tc := range []struct {
		name   string
		tr     core.TransportConfig
		suite  secure.Suite
		poller bool
		check  ioCheck
	}{
		{"default", core.TransportConfig{}, secure.DefaultSuite(), !linux, func(st batchio.Stats) error {
			if linux && (st.GSOSends == 0 || st.SendCalls >= st.Sent) {
				return fmt.Errorf("%d datagrams in %d send calls, %d GSO sends: want batches and GSO", st.Sent, st.SendCalls, st.GSOSends)
			}
			return nil
		}},
		{"no-gso-gro", core.TransportConfig{Batch: batchio.Config{DisableGSO: true, DisableGRO: true}}, secure.DefaultSuite(), !linux, func(st batchio.Stats) error {
			if st.GSOSends != 0 || st.Coalesced != 0 {
				return fmt.Errorf("%d GSO sends, %d coalesced receives: want none", st.GSOSends, st.Coalesced)
			}
			return nil
		}},
		{"no-mmsg", core.TransportConfig{Batch: batchio.Config{DisableMmsg: true}}, secure.DefaultSuite(), !linux, func(st batchio.Stats) error {
			if st.SendCalls != st.Sent || st.RecvCalls != st.Received || st.GSOSends != 0 || st.Coalesced != 0 {
				return fmt.Errorf("sent %d in %d calls, received %d in %d calls, %d GSO, %d coalesced: want one call per datagram, no offload",
					st.Sent, st.SendCalls, st.Received, st.RecvCalls, st.GSOSends, st.Coalesced)
			}
			return nil
		}},
		{"poller", core.TransportConfig{Driver: core.DriverPoller}, secure.DefaultSuite(), true, nil},
		{"chacha20", core.TransportConfig{Suite: secure.SuiteChaCha}, secure.SuiteChaCha, !linux, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
			defer cancel()
			var nodes []*core.Node
			for range 2 {
				n, err := core.Listen("127.0.0.1:0", core.Config{Transport: tc.tr})
				if err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, n)
			}
			defer closeNodes(t, nodes)
			ca, cb := connect(t, ctx, nodes[0], nodes[1])
			if err := moveStream(ctx, ca, cb, knobBytes); err != nil {
				t.Fatal(err)
			}
			if ca.Suite() != tc.suite || cb.Suite() != tc.suite {
				t.Errorf("suites %v (dialler) and %v (acceptor), want %v on both", ca.Suite(), cb.Suite(), tc.suite)
			}
			var sum batchio.Stats
			for i, n := range nodes {
				d := core.NodeDriver(n)
				if _, isPoller := d.(*loop.Poller); isPoller != tc.poller {
					t.Errorf("node %d runs a %T, want poller=%v", i, d, tc.poller)
				}
				st := d.(interface{ Stats() loop.Stats }).Stats().IO
				sum.Sent += st.Sent
				sum.SendCalls += st.SendCalls
				sum.Received += st.Received
				sum.RecvCalls += st.RecvCalls
				sum.GSOSends += st.GSOSends
				sum.Coalesced += st.Coalesced
			}
			if sum.Sent == 0 {
				t.Fatal("the drivers count no datagram sent")
			}
			if tc.check != nil {
				if err := tc.check(sum); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// moveStream writes n bytes of a pattern on a stream from a to b, closes
// it, and checks b reads exactly those bytes, then the end of the stream.
func moveStream(ctx context.Context, a, b *core.Conn, n int) error {
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(i*7 + i>>11)
	}
	sent := make(chan error, 1)
	go func() {
		s, err := a.OpenStream(ctx)
		if err == nil {
			_, err = s.Write(want)
			err = errors.Join(err, s.Close())
		}
		sent <- err
	}()
	s, err := b.AcceptStream(ctx)
	if err != nil {
		return errors.Join(err, <-sent)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetReadDeadline(dl)
	}
	got, err := io.ReadAll(s)
	if err = errors.Join(err, <-sent); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("received %d bytes, not the %d written", len(got), len(want))
	}
	return nil
}
