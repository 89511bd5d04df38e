package transfer

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/petrel-transport/petrel/internal/relay"
)

// stream is one end of a byte stream: a petrel *core.Stream, a quic-go
// *quic.Stream and a *net.TCPConn all are one. SetDeadline must unblock a
// Read or Write in flight (net.Conn's contract), which is how a run is
// aborted.
type stream interface {
	io.ReadWriter
	SetDeadline(t time.Time) error
}

// link is one connection of one transport between two endpoints in this
// process: open makes a stream on the sending side, accept returns the
// next stream the sending side opened, on the receiving side.
//
// Concurrency: open and accept may run at the same time (one goroutine
// each); Close may be called at any time, more than once, and ends calls
// in flight.
type link struct {
	open   func(ctx context.Context) (stream, error)
	accept func(ctx context.Context) (stream, error)
	relay  *relay.Relay // between the two endpoints, if impaired; closed by Close
	cell   *cell        // the impairment route gives the relay; nil: defaultCell

	closeOnce sync.Once
	closeErr  error
	closers   []func() error // run last to first by Close
}

// onClose registers f to run in Close, before everything registered
// earlier: the client's side is registered after the server's and closes
// first.
func (l *link) onClose(f func() error) { l.closers = append(l.closers, f) }

// Close closes everything registered with onClose, last first, once; later
// calls return the first result.
func (l *link) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		for i := len(l.closers) - 1; i >= 0; i-- {
			errs = append(errs, l.closers[i]())
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// route returns the address the sending side dials to reach target:
// target itself, or with impaired a relay in front of it, started here
// and closed by Close, impairing both directions with l.cell (the
// loss1%-rtt20ms cell when l.cell is nil). The relay carries both
// directions (the dialler sends to it, and target's replies go back
// through the socket it opened towards target), so loss and delay fall on
// data and on ACKs alike.
func (l *link) route(target netip.AddrPort, impaired bool) (netip.AddrPort, error) {
	if !impaired {
		return target, nil
	}
	c := l.cell
	if c == nil {
		c = defaultCell
	}
	r, err := relay.New(relay.Config{Target: target, Forward: c.direction(1), Reverse: c.direction(2)})
	if err != nil {
		return netip.AddrPort{}, err
	}
	l.relay = r
	l.onClose(r.Close)
	return r.Addr(), nil
}

// asStream converts a transport's (stream, error) result, keeping a
// failed call's nil pointer from becoming a non-nil interface.
func asStream[S stream](s S, err error) (stream, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// setup fills l for one transport: it opens both endpoints, the path
// between them (through route) and the connection, and sets open and
// accept; everything it opened it registers with onClose, even on error.
type setup func(ctx context.Context, l *link, impaired bool) error

// dial opens a link with s, through a relay impairing it as c when c is
// not nil; on error everything s opened is closed.
func dial(ctx context.Context, s setup, c *cell) (*link, error) {
	l := &link{cell: c}
	impaired := c != nil
	if err := s(ctx, l, impaired); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}
