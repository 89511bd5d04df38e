package messages

import (
	"context"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"github.com/quic-go/quic-go"
)

// quicTransport: quic-go, one bidirectional stream per connection carrying
// length-prefixed messages, set up by bench/internal/transports (TLS 1.3,
// a self-signed certificate the client trusts, the raised windows of
// transports.QUICConfig).
type quicTransport struct{}

var (
	_ transport = quicTransport{}
	_ listener  = quicListener{}
)

// quicListener is a listener of transports.ListenQUIC and what closes it,
// its transport and its socket.
type quicListener struct {
	ln       *quic.Listener
	closeAll func() error
}

func (quicTransport) listen(context.Context) (listener, error) {
	ln, closeAll, err := transports.ListenQUIC(transports.QUICConfig())
	if err != nil {
		return nil, err
	}
	return quicListener{ln, closeAll}, nil
}

// dial opens a connection to the listener (on a socket of its own) and its
// one stream; closing the msgConn closes the connection and its socket.
func (quicTransport) dial(ctx context.Context, l listener) (msgConn, error) {
	c, closeAll, err := transports.DialQUIC(ctx, transports.AddrOf(l.(quicListener).ln), transports.QUICConfig())
	if err != nil {
		return nil, err
	}
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		_ = closeAll()
		return nil, err
	}
	return newFramed(s, closeAll), nil
}

// accept waits for a connection and for its first stream (a stream is
// announced to the peer by its first data: the client's first message).
func (l quicListener) accept(ctx context.Context) (msgConn, error) {
	c, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.AcceptStream(ctx)
	if err != nil {
		_ = c.CloseWithError(0, "")
		return nil, err
	}
	return newFramed(s, func() error { return c.CloseWithError(0, "") }), nil
}

// Close stops listening and closes the socket, which ends every connection
// it accepted.
func (l quicListener) Close() error { return l.closeAll() }
