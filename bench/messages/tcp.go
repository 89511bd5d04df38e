package messages

import (
	"context"
	"net"
)

// tcpTransport: TCP on loopback, length-prefixed messages, Nagle off (Go's
// default TCP_NODELAY), a buffered writer flushed per message.
type tcpTransport struct{}

var (
	_ transport = tcpTransport{}
	_ listener  = tcpListener{}
)

type tcpListener struct{ ln net.Listener }

func (tcpTransport) listen(ctx context.Context) (listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return tcpListener{ln}, nil
}

func (tcpTransport) dial(ctx context.Context, l listener) (msgConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp4", l.(tcpListener).ln.Addr().String())
	if err != nil {
		return nil, err
	}
	return newFramed(c, c.Close), nil
}

func (l tcpListener) accept(ctx context.Context) (msgConn, error) {
	c, err := l.ln.Accept()
	if err != nil {
		return nil, err
	}
	return newFramed(c, c.Close), nil
}

// Close stops listening; the echo pair closes the connection it accepted.
func (l tcpListener) Close() error { return l.ln.Close() }
