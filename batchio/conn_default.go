//go:build !linux

package batchio

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Conn moves UDP datagrams over one socket, one datagram per system call:
// the portable fallback of the Linux Conn, with the same API and contracts
// and a batch size of 1.
//
// Guard map: uc and rcvbuf/sndbuf are immutable after New; closed is
// atomic; rmu guards buf. Concurrent readers are serialized, and so are
// concurrent writers; one reader and one writer run in parallel.
type Conn struct {
	uc             *net.UDPConn
	rcvbuf, sndbuf int
	closed         atomic.Bool

	rmu sync.Mutex
	buf []byte

	wmu sync.Mutex

	stats counters
}

// New returns a Conn over c. The Conn owns c from now on: Close closes it,
// and c must not be read or written directly; its deadlines still apply to
// ReadBatch and WriteBatch.
func New(c *net.UDPConn, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	conn := &Conn{uc: c, buf: make([]byte, maxUDPPayload)}
	if cfg.RecvBufferSize > 0 && c.SetReadBuffer(cfg.RecvBufferSize) == nil {
		conn.rcvbuf = cfg.RecvBufferSize
	}
	if cfg.SendBufferSize > 0 && c.SetWriteBuffer(cfg.SendBufferSize) == nil {
		conn.sndbuf = cfg.SendBufferSize
	}
	return conn, nil
}

// NewFD is not offered off Linux: it returns ErrUnsupported.
func NewFD(fd uintptr, cfg Config) (*Conn, error) { return nil, ErrUnsupported }

// BatchSize is 1: one datagram per system call.
func (c *Conn) BatchSize() int { return 1 }

// Capabilities reports no offload; the buffers are what was requested and
// accepted (the platform cannot report what it granted).
func (c *Conn) Capabilities() Capabilities {
	return Capabilities{RecvBuffer: c.rcvbuf, SendBuffer: c.sndbuf}
}

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats { return c.stats.snapshot() }

// ReadBatch receives one datagram into msgs[0]; its Buffer points into the
// Conn's receive buffer, valid until the next ReadBatch or Drain, or Close.
// Local is left zero (not reported by this platform's path).
// It parks until data arrives or the UDPConn's read deadline passes.
func (c *Conn) ReadBatch(msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		return 0, ErrClosed
	}
	n, ap, err := c.uc.ReadFromUDPAddrPort(c.buf)
	if err != nil {
		if c.closed.Load() {
			return 0, ErrClosed // woken by Close
		}
		return 0, err
	}
	c.stats.recvCalls.Add(1)
	c.stats.received.Add(1)
	msgs[0] = Message{Buffer: c.buf[:n:n], Addr: unmapAddrPort(ap)}
	return 1, nil
}

// Drain reads one datagram (parking until it arrives) and hands it to
// handle: without non-blocking reads the fallback cannot see an empty
// socket.
func (c *Conn) Drain(msgs []Message, handle func(msgs []Message)) (int, error) {
	n, err := c.ReadBatch(msgs)
	if n > 0 {
		handle(msgs[:n])
	}
	return n, err
}

// WriteBatch sends msgs in order, one system call each, and returns how
// many were sent; n < len(msgs) comes with the error that stopped msgs[n].
// It keeps no reference to the Buffers after it returns. Local is ignored:
// the kernel picks the source address.
func (c *Conn) WriteBatch(msgs []Message) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return 0, ErrClosed
	}
	for i := range msgs {
		if _, err := c.uc.WriteToUDPAddrPort(msgs[i].Buffer, msgs[i].Addr); err != nil {
			if c.closed.Load() {
				err = ErrClosed // woken by Close
			}
			c.stats.sent.Add(uint64(i))
			c.stats.sendCalls.Add(uint64(i))
			return i, err
		}
	}
	c.stats.sent.Add(uint64(len(msgs)))
	c.stats.sendCalls.Add(uint64(len(msgs)))
	return len(msgs), nil
}

// Close marks the Conn closed and closes the UDPConn, which wakes parked
// calls; they return ErrClosed. It is idempotent.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.uc.Close()
}

// unmapAddrPort turns a v4-mapped IPv6 address (RFC 4291 §2.5.5.2) into
// IPv4, so one peer has one address whatever the socket's family.
func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}
