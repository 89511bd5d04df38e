package simnet

// The pipeline of one datagram:
//
//	WriteBatch (sender's goroutine, Network.mu held for the batch)
//	  -> Network.routeLocked per datagram: receiver lookup, partition, the
//	     link's netem.Link.Decide at Clock(): a pending entry per copy
//	  -> receiver.push, once per receiver (its mu): per copy, a recycled
//	     buffer with the corrupt bit flipped, into the receiver's
//	     netem.Queue; a wake-up if the earliest copy changed
//	Endpoint.run (receiver's delivery goroutine)
//	  -> sleeps on a time.Timer until the earliest copy is due
//	  -> pops up to maxBatch due copies, drops those across a partition,
//	     calls HandleBatch(0, batch) with no lock held
//	  -> recycles the copies on its next turn

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// Handler receives an endpoint's datagrams. It has the method set of
// core.Handler, declared here so that simnet does not import core.
type Handler interface {
	// HandleBatch is called on the endpoint's delivery goroutine with the
	// datagrams due at one instant (loop is always 0). Message.Addr is the
	// source, Message.Local the endpoint's IP; msgs and their Buffers are
	// valid only until it returns. Calls of one endpoint never overlap. It
	// may call WriteBatch and Close of any endpoint, its own included.
	HandleBatch(loop int, msgs []batchio.Message)
}

// maxBatch bounds one HandleBatch call, as a recvmmsg batch is bounded
// (batchio reads up to 64 datagrams per call).
const maxBatch = 64

// minBuf is the capacity of a new datagram buffer: a full Ethernet payload
// (1500 bytes, RFC 894) fits, so petrel's 1200-byte datagrams all reuse one
// size of buffer.
const minBuf = 2048

// packet is one copy of a datagram in flight to an endpoint.
type packet struct {
	buf []byte
	src netip.AddrPort
}

// Endpoint is one open "socket" of a Network. Its method set is
// core.Driver's. It is safe for concurrent use.
type Endpoint struct {
	// Immutable after Listen.
	net  *Network
	addr netip.AddrPort
	h    Handler
	wake chan struct{} // capacity 1: a push made an earlier copy the head
	done chan struct{} // closed by Close
	exit chan struct{} // closed when run returns

	// pub is the address the endpoint's datagrams leave from and the one
	// they are routed to it by: addr until Rebind moves it. Network.mu
	// guards it.
	pub netip.AddrPort

	closing   atomic.Bool   // set first by Close: WriteBatch refuses
	gid       atomic.Uint64 // the delivery goroutine's id, for Close
	closeOnce sync.Once

	// mu guards the fields below. It is taken under Network.mu by senders
	// and alone by the delivery goroutine, never across HandleBatch.
	mu     sync.Mutex
	closed bool
	q      netem.Queue[*packet]
	ready  []*packet // popped and due, not yet delivered: ready[head:]
	head   int
	free   []*packet // recycled copies
}

// Compile-time check that Endpoint has core.Driver's method set, spelled
// out because simnet may not import core.
var _ interface {
	WriteBatch([]batchio.Message) (int, error)
	LocalAddr() netip.AddrPort
	Loops() int
	Close() error
} = (*Endpoint)(nil)

func newEndpoint(n *Network, addr netip.AddrPort, h Handler) *Endpoint {
	return &Endpoint{
		net:  n,
		addr: addr,
		pub:  addr,
		h:    h,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		exit: make(chan struct{}),
	}
}

// LocalAddr returns the address the endpoint listens on. Rebind does not
// change it: a host behind a NAT keeps its own address.
func (e *Endpoint) LocalAddr() netip.AddrPort { return e.addr }

// PublicAddr returns the address the endpoint's datagrams leave from and
// arrive at: LocalAddr, or the last address given to Rebind.
func (e *Endpoint) PublicAddr() netip.AddrPort {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	return e.pub
}

// Rebind models a NAT rebinding of the endpoint (RFC 4787 section 4.1:
// the binding of a host's address changes, after a NAT reboot or a binding
// timeout): from now on its datagrams leave with source public, and
// datagrams addressed to public reach it, while its previous public
// address (LocalAddr at first) reaches nothing (Stats.DroppedNoEndpoint).
// The endpoint itself is not told: LocalAddr and Message.Local stay as
// they were, as a host behind a NAT sees no change. Copies already queued
// for the endpoint are still delivered (the old binding lingers for
// datagrams already past it). The links and partitions of the new address
// are those configured for it (Default unless SetLink named it). Rebind to
// LocalAddr undoes the rebinding.
//
// It fails if public is invalid or has a port of 0, if another endpoint is
// reachable at public (ErrAddrInUse), or if the endpoint or the Network is
// closed (ErrClosed). It is safe for concurrent use and from inside a
// Handler.
func (e *Endpoint) Rebind(public netip.AddrPort) error {
	public = unmap(public)
	if !public.IsValid() || public.Port() == 0 {
		return fmt.Errorf("simnet: rebind to %v: invalid address", public)
	}
	n := e.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.closing.Load() || n.closed || n.endpoints[e.pub] != e {
		return ErrClosed
	}
	if public == e.pub {
		return nil
	}
	if _, used := n.endpoints[public]; used {
		return fmt.Errorf("simnet: rebind to %v: %w", public, ErrAddrInUse)
	}
	delete(n.endpoints, e.pub)
	n.endpoints[public] = e
	e.pub = public
	return nil
}

// Loops returns 1: one delivery goroutine calls HandleBatch, with loop 0.
func (e *Endpoint) Loops() int { return 1 }

// WriteBatch sends each message's Buffer to its Addr, through the
// impairments of the link from this endpoint to Addr, and returns
// len(msgs). Like UDP it reports no loss: a datagram lost, tail-dropped,
// partitioned or sent to an address with no endpoint is counted in
// Network.Stats and dropped silently. The Buffers are read during the call
// only. After Close it returns 0 and ErrClosed. It is safe for concurrent
// use and from inside a Handler.
func (e *Endpoint) WriteBatch(msgs []batchio.Message) (int, error) {
	if e.closing.Load() {
		return 0, ErrClosed
	}
	n := e.net
	n.mu.Lock()
	now := n.clock() // one instant per batch, as one sendmmsg
	pend := n.pend[:0]
	src := e.pub
	for i := range msgs {
		pend = n.routeLocked(pend, now, src, unmap(msgs[i].Addr), i, len(msgs[i].Buffer))
	}
	// Queue each receiver's copies under one lock, so that its delivery
	// goroutine sees the copies of one batch due at one instant together:
	// batch boundaries then do not depend on goroutine scheduling.
	for i := range pend {
		if pend[i].to != nil {
			pend[i].to.push(src, msgs, pend[i:])
		}
	}
	clear(pend)
	n.pend = pend[:0]
	n.mu.Unlock()
	return len(msgs), nil
}

// push queues a copy of msgs[p.msg].Buffer for each p in pend addressed to
// e, and marks those done by clearing p.to; Network.mu is held.
func (e *Endpoint) push(src netip.AddrPort, msgs []batchio.Message, pend []pending) {
	e.mu.Lock()
	if e.closed {
		// Close removes e from Network.endpoints under Network.mu before
		// setting closed, so a sender holding Network.mu never gets here.
		e.mu.Unlock()
		panic("simnet: push to a closed endpoint")
	}
	wake := false
	for i := range pend {
		p := &pend[i]
		if p.to != e {
			continue
		}
		p.to = nil
		b := msgs[p.msg].Buffer
		c := e.getLocked(len(b))
		c.buf = append(c.buf, b...)
		c.src = src
		netem.FlipBit(c.buf, p.f.Bit)
		if at, ok := e.q.Next(); !ok || p.f.At < at {
			wake = true
		}
		e.q.Push(p.f.At, c)
	}
	e.mu.Unlock()
	if wake {
		select {
		case e.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// getLocked returns a copy with an empty buffer of room for n bytes.
func (e *Endpoint) getLocked(n int) *packet {
	k := len(e.free) - 1
	if k < 0 {
		return &packet{buf: make([]byte, 0, max(n, minBuf))}
	}
	p := e.free[k]
	e.free[k] = nil
	e.free = e.free[:k]
	if cap(p.buf) < n {
		p.buf = make([]byte, 0, n)
	}
	p.buf = p.buf[:0]
	return p
}

// run is the delivery goroutine: it hands the due copies to the Handler,
// then sleeps until the next is due, a push brings an earlier one, or Close.
func (e *Endpoint) run() {
	defer close(e.exit)
	e.gid.Store(goid())
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	batch := make([]*packet, 0, maxBatch)
	msgs := make([]batchio.Message, 0, maxBatch)
	local := e.addr.Addr()
	n := e.net
	for {
		e.mu.Lock()
		// The previous batch's Handler call has returned: recycle it.
		e.free = append(e.free, batch...)
		clear(batch)
		batch = batch[:0]
		if e.closed {
			e.mu.Unlock()
			return
		}
		now := n.clock()
		batch = e.popDueLocked(now, batch)
		next, pending := e.q.Next()
		e.mu.Unlock()

		if len(batch) > 0 {
			msgs = msgs[:0]
			cut := n.nparts.Load() > 0
			if cut {
				n.mu.Lock()
			}
			for _, p := range batch {
				if cut && n.partitionedLocked(p.src, e.pub) {
					n.stats.partition.Add(1)
					continue
				}
				msgs = append(msgs, batchio.Message{Buffer: p.buf, Addr: p.src, Local: local})
			}
			if cut {
				n.mu.Unlock()
			}
			if len(msgs) > 0 {
				n.stats.delivered.Add(uint64(len(msgs)))
				e.h.HandleBatch(0, msgs)
				clear(msgs) // keep no Buffer reachable from the scratch
			}
			continue // more may be due: look again before sleeping
		}
		if pending {
			timer.Reset(next.Sub(now))
		} else {
			timer.Stop()
		}
		select {
		case <-timer.C:
		case <-e.wake:
		case <-e.done:
			return
		}
	}
}

// popDueLocked appends to dst up to maxBatch copies due at now, in arrival
// order. The netem Queue pops every due copy at once, so those beyond one
// batch wait in ready, ahead of anything pushed later (which is due at or
// after now, and so after them).
func (e *Endpoint) popDueLocked(now monotime.Time, dst []*packet) []*packet {
	if e.head == len(e.ready) {
		clear(e.ready)
		e.ready = e.q.PopDue(now, e.ready[:0])
		e.head = 0
	}
	k := min(len(e.ready)-e.head, maxBatch)
	dst = append(dst, e.ready[e.head:e.head+k]...)
	e.head += k
	return dst
}

// Close closes the endpoint: WriteBatch fails with ErrClosed from now on,
// its address is free for a new Listen at once, and the copies still in
// flight to it are dropped (Stats.DroppedClosed). Once Close returns, no
// HandleBatch call of the endpoint runs or will run, and its goroutine has
// exited: Close waits for a HandleBatch call in progress to return.
//
// Called from inside the endpoint's own Handler, Close cannot wait for the
// call it is part of: it returns at once, and the delivery goroutine exits
// when the Handler returns, without another call. It recognizes that case
// by comparing the caller's goroutine id with the delivery goroutine's.
//
// Close is idempotent and always returns nil.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		e.closing.Store(true)
		n := e.net
		n.mu.Lock()
		if n.endpoints[e.pub] == e {
			delete(n.endpoints, e.pub)
		}
		n.mu.Unlock()

		e.mu.Lock()
		e.closed = true
		dropped := len(e.ready) - e.head + e.q.Len()
		// No buffer is reused after Close: let them all go.
		e.q = netem.Queue[*packet]{}
		e.ready, e.head, e.free = nil, 0, nil
		e.mu.Unlock()
		n.stats.closedReceiver.Add(uint64(dropped))
		close(e.done)
	})
	if goid() != e.gid.Load() {
		<-e.exit
	}
	return nil
}
