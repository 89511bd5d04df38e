package transports

import (
	"context"
	"net"
)

// ListenTCP listens for TCP on 127.0.0.1 (a port the kernel picks).
// Connections it accepts outlive it: their owner closes them.
func ListenTCP(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp4", "127.0.0.1:0")
}

// DialTCP connects to a listener of ListenTCP. Nagle is off (Go's default
// TCP_NODELAY).
func DialTCP(ctx context.Context, ln net.Listener) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp4", ln.Addr().String())
}
