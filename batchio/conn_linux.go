package batchio

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Conn moves batches of UDP datagrams over one socket with recvmmsg and
// sendmmsg, UDP GSO and UDP GRO where the kernel has them.
//
// Guard map: sys, uc, family, batch, slotSize, gro, mmsg, meminfo, rxq,
// local, rcvbuf, sndbuf, rawBudget are immutable after construction. gso and
// closed are atomic. rmu guards r (the reader's headers, arena and
// cursor); wmu guards w (the writer's headers, iovecs, plan and send-cost
// estimate); smu serializes Stats' reads of the kernel's drop counter. No
// two of rmu, wmu, smu are held together. iomu is held shared for the span
// of each system call on the socket and exclusively by Close, after it set
// closed (lock order: rmu, wmu or smu, then iomu). stats is atomic.
//
// Conn is safe for concurrent use: one goroutine may read while another
// writes; concurrent readers are serialized, and so are concurrent writers.
type Conn struct {
	sys      sysLayer
	uc       *net.UDPConn // nil in fd mode
	family   int
	batch    int
	slotSize int
	gro      bool
	mmsg     bool // calls move batches (recvmmsg/sendmmsg); false with Config.DisableMmsg
	meminfo  bool // KernelDrops is read with SO_MEMINFO by Stats
	rxq      bool // KernelDrops comes with received datagrams (SO_RXQ_OVFL)
	// local is the specific address the socket is bound to, every received
	// datagram's destination; zero for a wildcard socket, whose datagrams
	// carry theirs in a packet-info control message.
	local  netip.Addr
	rcvbuf int
	sndbuf int
	df     bool
	// rawBudget bounds the predicted length of a send made without the
	// scheduler (sendcost.go); 0 makes every send through it.
	rawBudget time.Duration

	gso    atomic.Bool
	closed atomic.Bool

	iomu sync.RWMutex

	rmu sync.Mutex
	r   readState

	wmu sync.Mutex
	w   writeState

	smu sync.Mutex

	stats counters
}

// New returns a Conn over c, driven through c's syscall.RawConn so calls
// park in Go's poller. The Conn owns c from now on: Close closes it, and c
// must not be read or written directly; its deadlines still apply to
// ReadBatch and WriteBatch. c may be an IPv4 or an IPv6 (dual-stack) socket.
func New(c *net.UDPConn, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var setup sockSetup
	var serr error
	if err := rc.Control(func(fd uintptr) { setup, serr = setupSocket(int(fd), cfg) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return newConn(newRawConnSys(rc, cfg.DisableMmsg), c, setup, cfg)
}

// NewFD returns a Conn over a non-blocking UDP socket owned by the caller,
// typically an event loop's (gnet). Calls never block: they report
// ErrWouldBlock when the kernel answers EAGAIN; read with Drain or ReadBatch
// until ErrWouldBlock after each readiness event. Close does not close fd.
func NewFD(fd uintptr, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	if flags&unix.O_NONBLOCK == 0 {
		return nil, errBlockingFD
	}
	setup, err := setupSocket(int(fd), cfg)
	if err != nil {
		return nil, err
	}
	return newConn(fdSys{fd: fd, single: cfg.DisableMmsg}, nil, setup, cfg)
}

// newConn allocates everything the Conn will ever use; cfg has its
// defaults filled in.
func newConn(sys sysLayer, uc *net.UDPConn, s sockSetup, cfg Config) (*Conn, error) {
	c := &Conn{
		sys:      sys,
		uc:       uc,
		family:   s.family,
		batch:    cfg.BatchSize,
		slotSize: cfg.MaxDatagramSize,
		gro:      s.gro,
		mmsg:     !cfg.DisableMmsg,
		meminfo:  s.meminfo,
		rxq:      s.rxq,
		local:    s.local,
		rcvbuf:   s.rcvbuf,
		sndbuf:   s.sndbuf,
		df:       s.df,

		rawBudget: rawSendBudget,
	}
	if s.gro {
		c.slotSize = maxUDPPayload
	}
	c.gso.Store(s.gso)
	c.r.init(c.batch, c.slotSize)
	c.w.init(c.batch)
	return c, nil
}

// BatchSize is the most datagrams one system call moves; size msgs slices
// to it. It is immutable.
func (c *Conn) BatchSize() int { return c.batch }

// Capabilities reports the offloads in use and the buffers the kernel
// granted. GSO may turn false after a write (see GSODisabledError).
func (c *Conn) Capabilities() Capabilities {
	return Capabilities{
		MMsg:         c.mmsg,
		GSO:          c.gso.Load(),
		GRO:          c.gro,
		RxqOverflow:  c.meminfo || c.rxq,
		RecvBuffer:   c.rcvbuf,
		SendBuffer:   c.sndbuf,
		DontFragment: c.df,
	}
}

// Stats returns a snapshot of the counters. Where the kernel's SO_MEMINFO
// has the drop counter it reads it first (one system call), so
// KernelDrops is current; after Close the last count read stands.
func (c *Conn) Stats() Stats {
	if c.meminfo {
		c.refreshDrops()
	}
	return c.stats.snapshot()
}

// refreshDrops stores the kernel's receive-queue drop counter in
// stats.kernelDrops, unless the Conn is closed (in fd mode the fd may
// already be someone else's).
func (c *Conn) refreshDrops() {
	c.smu.Lock()
	defer c.smu.Unlock()
	c.iomu.RLock()
	defer c.iomu.RUnlock()
	if c.closed.Load() {
		return
	}
	if d, err := c.sys.drops(); err == nil {
		c.stats.kernelDrops.Store(uint64(d))
	}
}

// Close marks the Conn closed; later calls return ErrClosed. In New mode it
// closes the UDPConn, which wakes calls parked in the poller. In fd mode the
// fd stays open (its owner closes it). Either way Close returns only once
// no system call on the socket is in flight, so the owner may close the fd
// as soon as Close returns. A call whose system call Close cut short (or
// that failed while Close ran) returns ErrClosed, which matches
// net.ErrClosed; one whose system call completed reports what it moved.
// Close may be called from a Drain handler. It is idempotent; only the
// first call can return an error.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	var err error
	if c.uc != nil {
		err = c.uc.Close() // wakes calls parked in the poller
	}
	// Wait for the system calls that passed the closed check; later ones
	// see closed under iomu and never start.
	c.iomu.Lock()
	defer c.iomu.Unlock()
	return err
}

// recvmmsg is one sys.recvmmsg, unless the Conn is closed: it holds iomu
// shared across the call so Close can wait for it, and reports ErrClosed for
// a call Close interrupted.
func (c *Conn) recvmmsg(h []mmsghdr, wait bool) (int, error) {
	c.iomu.RLock()
	defer c.iomu.RUnlock()
	if c.closed.Load() {
		return 0, ErrClosed
	}
	n, err := c.sys.recvmmsg(h, wait)
	if err != nil && c.closed.Load() {
		return 0, ErrClosed
	}
	return n, err
}

// sendmmsg is recvmmsg's counterpart for sys.sendmmsg.
func (c *Conn) sendmmsg(h []mmsghdr, raw bool) (int, time.Duration, error) {
	c.iomu.RLock()
	defer c.iomu.RUnlock()
	if c.closed.Load() {
		return 0, 0, ErrClosed
	}
	n, took, err := c.sys.sendmmsg(h, raw)
	if err != nil && c.closed.Load() {
		return 0, took, ErrClosed
	}
	return n, took, err
}
