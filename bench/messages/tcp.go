package messages

import (
	"context"
	"net"

	"github.com/petrel-transport/petrel/bench/internal/transports"
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
	ln, err := transports.ListenTCP(ctx)
	if err != nil {
		return nil, err
	}
	return tcpListener{ln}, nil
}

func (tcpTransport) dial(ctx context.Context, l listener) (msgConn, error) {
	c, err := transports.DialTCP(ctx, l.(tcpListener).ln)
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
