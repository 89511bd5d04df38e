package messages

import (
	"context"
	"errors"
	"sync"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"github.com/petrel-transport/petrel/core"
)

// petrelTransport: petrel's public API over one I/O driver; each side is a
// node of its own, opened by bench/internal/transports.
type petrelTransport struct{ driver core.DriverKind }

var (
	_ transport = petrelTransport{}
	_ listener  = petrelListener{}
)

type petrelListener struct{ n *core.Node }

func (t petrelTransport) listen(context.Context) (listener, error) {
	n, err := transports.ListenPetrel(transports.PetrelConfig(t.driver))
	if err != nil {
		return nil, err
	}
	return petrelListener{n}, nil
}

// dial opens the client's own node and dials the listener's node by its
// address and key; closing the msgConn closes both.
func (t petrelTransport) dial(ctx context.Context, l listener) (msgConn, error) {
	srv := l.(petrelListener).n
	c, n, err := transports.DialPetrel(ctx, transports.PetrelConfig(t.driver), srv.Addr(), srv.LocalKey())
	if err != nil {
		return nil, err
	}
	return &petrelConn{Conn: c, node: n}, nil
}

func (l petrelListener) accept(ctx context.Context) (msgConn, error) {
	c, err := l.n.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &petrelConn{Conn: c}, nil
}

// Close closes the node, which ends every connection it accepted.
func (l petrelListener) Close() error { return l.n.Close() }

// petrelConn is a core.Conn (its SendMessage is the msgConn's; its
// ReceiveMessage reuses one buffer, as the quic-go and TCP adapters do)
// and, on the dialling side, the node that owns it.
type petrelConn struct {
	*core.Conn
	node *core.Node // nil on the accepting side
	buf  []byte     // the last message received; reused by the next

	closeOnce sync.Once
	closeErr  error
}

var _ msgConn = (*petrelConn)(nil)

// ReceiveMessage returns the next message in c's buffer, valid until the
// next call (msgConn's contract).
func (c *petrelConn) ReceiveMessage(ctx context.Context) ([]byte, error) {
	m, err := c.Conn.ReceiveMessageInto(ctx, c.buf)
	if err != nil {
		return nil, err
	}
	c.buf = m
	return m, nil
}

// Close closes the connection, then the client's node; later calls return
// the first result.
func (c *petrelConn) Close() error {
	c.closeOnce.Do(func() {
		err := c.Conn.Close()
		if c.node != nil {
			err = errors.Join(err, c.node.Close())
		}
		c.closeErr = err
	})
	return c.closeErr
}
