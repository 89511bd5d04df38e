package core

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// Conn is an established, authenticated, encrypted connection to one peer.
// Messages sent with SendMessage arrive whole, once, in order, or the
// connection ends.
//
// Concurrency: every method is safe for concurrent use.
//
// Guard map: n, key, incoming, suite, s, cid are immutable after newConn;
// peer is atomic (set when the registry installs it). mu guards ended,
// endErr and watchFn. pending is owned by the confirmation path (confirmed flips once).
type Conn struct {
	n        *Node
	key      PeerKey
	incoming bool
	suite    secure.Suite
	s        *session.Session
	cid      wire.ConnID
	peer     atomic.Pointer[Peer]

	pending   *secure.Pending // a responder's handshake until confirmed; nil for dialled conns
	confirmed atomic.Bool
	deadline  wheel.Timer   // a responder's confirmation deadline
	settled   chan struct{} // a responder's: closed once confirmed or ended (see usable)
	settle    sync.Once

	mu      sync.Mutex
	ended   bool
	endErr  error
	watchFn func(error)
}

var _ Session = (*Conn)(nil)

// SendMessage sends p as one message (see session.Session.SendMessage): it
// returns once the message is queued for the connection's sender goroutine,
// which sends it without waiting, while the bytes queued and never sent stay
// within a backlog (64 KiB); above it, once every byte has left at least
// once, parking while the congestion window, the peer's flow-control credit
// or the pacer hold it back. p may be reused after it returns. Messages
// larger than Config.MaxMessageSize are refused.
func (c *Conn) SendMessage(ctx context.Context, p []byte) error {
	return c.s.SendMessage(ctx, p)
}

// ReceiveMessage returns the next message from the peer, in order. The
// slice is the caller's.
func (c *Conn) ReceiveMessage(ctx context.Context) ([]byte, error) {
	return c.s.ReceiveMessage(ctx)
}

// ReceiveMessageInto is ReceiveMessage appending the message to dst[:0],
// which it returns: with room in dst it allocates nothing. The caller owns
// dst before and after the call; on an error the returned slice is dst[:0].
func (c *Conn) ReceiveMessageInto(ctx context.Context, dst []byte) ([]byte, error) {
	return c.s.ReceiveMessageInto(ctx, dst)
}

// OpenStream opens a byte stream to the peer (see Stream). It parks while
// the peer's limit of concurrent streams (its MaxIncomingStreams) is
// reached, until one of them ends, ctx ends or the connection ends. The
// peer learns of the stream with its first bytes.
func (c *Conn) OpenStream(ctx context.Context) (*Stream, error) {
	return c.s.OpenStream(ctx)
}

// AcceptStream returns the next stream the peer opened, in the order it
// opened them. It parks until one arrives, ctx ends or the connection ends.
func (c *Conn) AcceptStream(ctx context.Context) (*Stream, error) {
	return c.s.AcceptStream(ctx)
}

// RemoteKey is the peer's static public key, proven by the handshake.
func (c *Conn) RemoteKey() PeerKey { return c.key }

// Suite is the handshake and packet-protection suite the connection
// negotiated (the initiator's Transport.Suite): its AEAD seals and opens
// every packet.
func (c *Conn) Suite() secure.Suite { return c.suite }

// RemoteAddr is the peer's current address (it follows a NAT rebinding).
func (c *Conn) RemoteAddr() netip.AddrPort { return c.s.Remote() }

// Stats returns the connection's counters and estimates.
func (c *Conn) Stats() session.Stats { return c.s.Stats() }

// Peer returns the node's record of the peer (nil before the connection
// was installed).
func (c *Conn) Peer() *Peer { return c.peer.Load() }

// Err returns why the connection ended, nil while it is alive.
func (c *Conn) Err() error { return c.s.Err() }

// Close ends the connection: the peer is told with a CLOSE frame, parked
// calls return an error matching net.ErrClosed. It is idempotent.
func (c *Conn) Close() error { return c.s.Close() }

// closeWith implements reasonCloser.
func (c *Conn) closeWith(why error) { _ = c.s.CloseWithError(why) }

// IsAlive reports whether the connection can still carry traffic.
func (c *Conn) IsAlive() bool { return c.s.IsAlive() }

// Serve waits until the connection ends or ctx is done (then it closes the
// connection). The Node does not call it for a Conn, which reports its own
// end (see selfReporting); it is here for the Session contract.
func (c *Conn) Serve(ctx context.Context) error {
	done := make(chan error, 1)
	c.watch(func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = c.Close()
		return ctx.Err()
	}
}

// Keepalive sends a PING now.
func (c *Conn) Keepalive(now monotime.Time) error { return c.s.Keepalive(now) }

// Estimates reports the connection's path estimates for the peer record.
func (c *Conn) Estimates() Estimates {
	st := c.s.Stats()
	return Estimates{RTT: st.RTT, Cwnd: st.Cwnd}
}

// watch implements selfReporting.
func (c *Conn) watch(end func(error)) {
	c.mu.Lock()
	if c.ended {
		err := c.endErr
		c.mu.Unlock()
		end(err)
		return
	}
	c.watchFn = end
	c.mu.Unlock()
}

// onClose is the session's OnClose: it unregisters the connection id,
// fails an unconfirmed handshake, and reports the end to the registry.
func (c *Conn) onClose(reason error) {
	if reason == nil {
		reason = ErrLocalDisconnect
	}
	c.n.eng.retire(c)
	c.n.wheel.Cancel(&c.deadline)
	if c.pending != nil && !c.confirmed.Load() && c.pending.Fail() {
		c.n.eng.drops.Unconfirmed.Add(1)
	}
	c.markSettled()
	c.mu.Lock()
	c.ended, c.endErr = true, reason
	fn := c.watchFn
	c.watchFn = nil
	c.mu.Unlock()
	if fn != nil {
		fn(reason)
	}
}

// onConfirmed is a responder session's OnConfirmed: the initiator proved it
// holds the keys; the handshake's admission passes to the connection, which
// gives it back at once: without a ring topology a confirmed connection is
// established, and the accept backlog bounds those not yet accepted.
//
// Only now is the connection offered to Accept. An unconfirmed one may
// never be used by the initiator: secure.Initiator completes only with the
// response to its latest initiation, so when its handshake RTO fires
// before the response arrives, its next initiation replaces this
// connection (replaceLingering) and it talks to the replacement. Offered
// earlier, Accept would return a connection that dies unused while the
// live one waits in the backlog.
func (c *Conn) onConfirmed() {
	if !c.confirmed.CompareAndSwap(false, true) || c.pending == nil {
		return
	}
	c.markSettled()
	if c.pending.Confirm() {
		c.n.eng.admit.Release(secure.PublicKey(c.key))
	}
	c.n.wheel.Cancel(&c.deadline)
	select {
	case c.n.eng.accepts <- c:
	default: // the backlog filled since the initiation's check: the connection stays installed, unannounced
	}
}

// usable reports whether Dial may return c: it is alive and, if the peer
// initiated it, confirmed. An unconfirmed one may be replaced by the
// initiator's next initiation before it carries a byte (see onConfirmed).
func (c *Conn) usable() bool {
	return c.IsAlive() && (c.pending == nil || c.confirmed.Load())
}

func (c *Conn) markSettled() {
	if c.settled != nil {
		c.settle.Do(func() { close(c.settled) })
	}
}

// onRemoteChange follows the peer to its new address in the node's table.
func (c *Conn) onRemoteChange(addr netip.AddrPort) {
	if p := c.peer.Load(); p != nil {
		c.n.table.SetAddr(p, addr)
	}
}

// onDeadline fails a responder connection whose initiator never sent a
// packet within the handshake timeout.
func (c *Conn) onDeadline(monotime.Time) {
	if !c.confirmed.Load() {
		c.s.Close()
	}
}
