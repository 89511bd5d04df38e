package core_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
)

// TestE2EPathMTU: over real loopback sockets (DF set, MTU 64 KiB) path MTU
// discovery raises both sides of a connection from 1200 bytes to the
// default ceiling, DefaultMaxDatagramSize, while streams run; with
// DisablePathMTUDiscovery every datagram stays at 1200 bytes.
func TestE2EPathMTU(t *testing.T) {
	for _, tt := range []struct {
		name    string
		disable bool
		want    int
	}{
		{"discovery", false, core.DefaultMaxDatagramSize},
		{"disabled", true, 1200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
			defer cancel()
			mk := func() *core.Node {
				n, err := core.Listen("127.0.0.1:0", core.Config{Transport: core.TransportConfig{DisablePathMTUDiscovery: tt.disable}})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			a, b := mk(), mk()
			defer closeNodes(t, []*core.Node{a, b})
			ca, cb := connect(t, ctx, a, b)
			streamsBothWays(t, ctx, ca, cb, 2, 1<<20)
			waitQuiescent(t, []*core.Conn{ca, cb})
			for _, c := range []*core.Conn{ca, cb} {
				st := c.Stats()
				if st.DatagramSize != tt.want {
					t.Errorf("datagram size %d, want %d (%d probes sent, %d lost)", st.DatagramSize, tt.want, st.MTUProbesSent, st.MTUProbesLost)
				}
				if tt.disable && st.MTUProbesSent != 0 {
					t.Errorf("%d probes with discovery disabled", st.MTUProbesSent)
				}
			}
		})
	}
}
