package loop

// The poller driver's receive pipeline, one goroutine per socket:
//
//	batchio Drain: recvmmsg parks in Go's network poller (epoll, edge-
//	triggered, shared with every other socket of the process) until the
//	socket is readable, then reads batches until it is empty
//	-> each batch: h.HandleBatch(loop, msgs) on this goroutine
//	-> the wakeup's count goes to Stats, and the goroutine parks again.

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/petrel-transport/petrel/batchio"
)

// Poller is the driver that runs each socket's loop as a goroutine parked
// in Go's network poller (as quic-go and wireguard-go do).
//
// Guard map: h, hash, local and socks are immutable after ListenPoller;
// closed is atomic; closeOnce orders Close. Each pollSock's msgs, drainFn
// and n belong to its loop goroutine.
//
// Poller is safe for concurrent use.
type Poller struct {
	h     Handler
	hash  addrHash
	local netip.AddrPort
	socks []*pollSock

	wg        sync.WaitGroup
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ socketWriter = (*Poller)(nil)

// pollSock is one socket and its loop.
type pollSock struct {
	idx     int
	uc      *net.UDPConn // owned by conn
	h       Handler
	conn    *batchio.Conn
	msgs    []batchio.Message
	drainFn func(msgs []batchio.Message) // bound once: s.deliver
	ctr     loopCounters
}

// ListenPoller binds cfg.Loops UDP sockets to addr (SO_REUSEPORT when more
// than one; with port 0 they share the port the first one got) and starts
// one loop goroutine per socket, handing what each reads to h.
func ListenPoller(addr string, cfg Config, h Handler) (*Poller, error) {
	if h == nil {
		return nil, errNilHandler
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ucs, err := listenUDP(addr, cfg.Loops)
	if err != nil {
		return nil, err
	}
	p := &Poller{h: h, hash: newAddrHash(cfg.Loops), local: localAddrPort(ucs[0])}
	for i, uc := range ucs {
		conn, err := batchio.New(uc, cfg.Batch)
		if err != nil {
			for _, c := range ucs[i:] {
				_ = c.Close()
			}
			for _, s := range p.socks {
				_ = s.conn.Close()
			}
			return nil, err
		}
		s := &pollSock{idx: i, uc: uc, h: h, conn: conn, msgs: make([]batchio.Message, conn.BatchSize())}
		s.drainFn = s.deliver
		p.socks = append(p.socks, s)
	}
	p.wg.Add(len(p.socks))
	for _, s := range p.socks {
		go s.run(&p.wg, &p.closed)
	}
	return p, nil
}

// run is the loop of one socket: drain, deliver, park, until Close.
func (s *pollSock) run(wg *sync.WaitGroup, closed *atomic.Bool) {
	defer wg.Done()
	for {
		n, err := s.conn.Drain(s.msgs, s.drainFn)
		s.ctr.wakeup(n)
		if err != nil {
			if closed.Load() || errors.Is(err, batchio.ErrClosed) {
				return
			}
			s.ctr.readErrors.Add(1)
		}
	}
}

func (s *pollSock) deliver(msgs []batchio.Message) {
	s.ctr.delivering(len(msgs))
	s.h.HandleBatch(s.idx, msgs)
}

// WriteBatch sends msgs and returns how many were sent, always a prefix of
// msgs; n < len(msgs) comes with the error that stopped msgs[n]. Each
// datagram leaves through the socket its destination hashes to, so one
// peer's datagrams keep their order. It reads the Buffers during the call
// only. When a socket's send buffer is full the call parks in Go's poller
// until it drains. It is safe for concurrent use (writers of one socket
// are serialized). After Close it returns ErrClosed, which matches
// net.ErrClosed.
func (p *Poller) WriteBatch(msgs []batchio.Message) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	return writeRuns(p, p.hash, msgs)
}

func (p *Poller) writeSocket(i int, msgs []batchio.Message) (int, error) {
	n, err := p.socks[i].conn.WriteBatch(msgs)
	if err != nil && p.closed.Load() {
		err = ErrClosed
	}
	return n, err
}

// LocalAddr is the address every socket is bound to (IPv4 never
// v4-mapped).
func (p *Poller) LocalAddr() netip.AddrPort { return p.local }

// Loops is the number of sockets, each with its loop.
func (p *Poller) Loops() int { return len(p.socks) }

// Stats returns a snapshot of the counters, summed over the loops.
func (p *Poller) Stats() Stats {
	var st Stats
	for _, s := range p.socks {
		s.ctr.addTo(&st)
		addIO(&st.IO, s.conn.Stats())
	}
	return st
}

// Close closes the sockets, which wakes the loops and any WriteBatch
// parked on a full send buffer (it returns ErrClosed), and waits for the
// loops to end: once Close returns no HandleBatch runs and no goroutine of
// the driver is left. It is idempotent; a second call waits for the first
// and returns nil. It must not be called from HandleBatch.
func (p *Poller) Close() error {
	first := false
	p.closeOnce.Do(func() {
		first = true
		p.closed.Store(true)
		for _, s := range p.socks {
			if err := s.conn.Close(); err != nil && p.closeErr == nil {
				p.closeErr = err
			}
		}
		p.wg.Wait()
	})
	if first {
		return p.closeErr
	}
	return nil
}
