package core_test

import (
	"strings"
	"testing"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
)

// TestListenRefusesInvalidConfig: every invalid value is named in the
// error, at construction, before a socket is opened.
func TestListenRefusesInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		want string
		cfg  core.Config
	}{
		{"HandshakeBudget", core.Config{Transport: core.TransportConfig{HandshakeBudget: -1}}},
		{"HandshakeRTO", core.Config{Transport: core.TransportConfig{HandshakeRTO: -1}}},
		{"MaxHandshakeRTO", core.Config{Transport: core.TransportConfig{HandshakeRTO: core.MaxHandshakeRTO + 1}}},
		{"AcceptBacklog", core.Config{Transport: core.TransportConfig{AcceptBacklog: -1}}},
		{"MaxMessageSize", core.Config{Transport: core.TransportConfig{MaxMessageSize: -1}}},
		{"MaxDatagramSize", core.Config{Transport: core.TransportConfig{MaxDatagramSize: 100}}},
		{"ReceiveWindow", core.Config{Transport: core.TransportConfig{ReceiveWindow: -5}}},
		{"Loops", core.Config{Transport: core.TransportConfig{Loops: -1}}},
		{"Driver", core.Config{Transport: core.TransportConfig{Driver: 7}}},
		{"FixedRate", core.Config{Transport: core.TransportConfig{Congestion: session.FixedRate}}},
		{"IdleTimeout", core.Config{IdleTimeout: 1, KeepaliveInterval: 2}},
		{"Ring", core.Config{Ring: core.RingConfig{Enabled: true, TransientBudget: -1}}},
		{"Ring", core.Config{Ring: core.RingConfig{MinEstablished: 10, MaxEstablished: 5}}},
	} {
		n, err := core.Listen("127.0.0.1:0", tc.cfg)
		if err == nil {
			n.Close()
			t.Errorf("%s: accepted %+v", tc.want, tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the field", tc.want, err)
		}
	}
}
