package loop

// The gnet driver's receive pipeline, on each event loop:
//
//	epoll (level-triggered, gnet's own instance per loop) reports the
//	loop's SO_REUSEPORT socket readable
//	-> gnet reads ONE datagram with recvfrom into the loop's buffer and
//	   calls OnTraffic (allocating a conn, a sockaddr and a *net.UDPAddr)
//	-> OnTraffic finds the loop's socket by c.Fd() (its batchio.Conn is made
//	   at the loop's first OnTraffic), puts gnet's datagram first in the
//	   batch, and drains the rest of the socket with recvmmsg (GRO) until
//	   EAGAIN, handing each batch to h.HandleBatch
//	-> the wakeup's count goes to Stats; back to epoll_wait.
//
// gnet exposes no loop's socket before traffic reaches it, so
// ListenGnet, once the loops run, sends probe datagrams from fresh source
// ports (the kernel picks a socket by a hash of the 4-tuple) until every
// loop has seen one and so made its batchio.Conn; probes carry a random
// nonce and never reach the Handler. Writes need every socket from the
// start, for a destination must always hash to the same one.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"golang.org/x/sys/unix"

	"github.com/petrel-transport/petrel/batchio"
)

// probeTimeout bounds ListenGnet's wait for one probe datagram to reach a
// loop over loopback (it takes microseconds; this is a failure guard).
const probeTimeout = 5 * time.Second

// Gnet is the driver that reads on gnet event loops, one SO_REUSEPORT
// socket per loop, and drains each socket with batchio in fd mode.
//
// Guard map: h, cfg, hash, local, localIP, nonce and socks (the slice) are
// immutable after ListenGnet; each socks[i] is stored once, at that loop's
// first OnTraffic, and immutable after; all are set before ListenGnet
// returns. eng is set in OnBoot, before started is closed. regMu guards
// nreg and regErr. probing and closed are atomic. closeOnce orders Close.
//
// Gnet is safe for concurrent use.
type Gnet struct {
	h       Handler
	cfg     Config
	hash    addrHash
	local   netip.AddrPort
	localIP netip.Addr // local's address when specific: every datagram's destination
	nonce   [16]byte
	socks   []atomic.Pointer[gnetSock]

	eng     gnet.Engine
	started chan struct{} // closed at the first OnTick: every loop's socket is bound
	runDone chan struct{} // closed when gnet.Run returns
	runErr  error         // gnet.Run's error, read after runDone

	regMu  sync.Mutex
	nreg   int
	regErr error

	probing   atomic.Bool
	probeSeen chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ socketWriter = (*Gnet)(nil)

// gnetSock is one loop's socket.
//
// Guard map: idx, fd, conn and parkFn are immutable after register. msgs
// and ctr are written by the loop only (ctr read by Stats). fmu guards
// pfile, prc (made at the first park) and parkClosed. pmu serializes parked writers
// and guards pmsgs, pn and perr (lock order: pmu, then fmu). parks is
// atomic.
type gnetSock struct {
	idx  int
	fd   int
	conn *batchio.Conn
	msgs []batchio.Message // msgs[0] is gnet's datagram, msgs[1:] batchio's
	ctr  loopCounters

	fmu        sync.Mutex
	pfile      *os.File // a dup of fd in Go's poller, to wait for writability
	prc        syscall.RawConn
	parkClosed bool

	pmu      sync.Mutex
	pmsgs    []batchio.Message
	pn       int
	perr     error
	parkFn   func(fd uintptr) bool // bound once: s.tryWrite
	parks    atomic.Uint64
	rechecks atomic.Uint64 // parks that ran out of parkRecheck and tried again
}

// gnetEvents is the gnet.EventHandler of a Gnet, kept off its API.
type gnetEvents struct {
	gnet.BuiltinEventEngine
	g         *Gnet
	startOnce sync.Once
}

// ListenGnet binds cfg.Loops SO_REUSEPORT sockets to addr, one per gnet
// event loop, and hands what each loop reads to h. With port 0 a first
// socket takes a port from the kernel and holds it until gnet's sockets
// are bound to the same port. It returns once every loop has its
// batchio.Conn (see the top of this file).
func ListenGnet(addr string, cfg Config, h Handler) (*Gnet, error) {
	if h == nil {
		return nil, errNilHandler
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// The placeholder shares the port with SO_REUSEPORT (even for one loop:
	// gnet's sockets all set it), so it must be gone before probes fly.
	// The family is the requested address's: Go's "udp" binds 0.0.0.0 as
	// a dual-stack [::] socket, and gnet's "udp6" sockets are IPV6_V6ONLY,
	// so taking the family from the placeholder left a node bound to
	// 0.0.0.0 unable to send to any IPv4 peer (ENETUNREACH).
	ph, err := (&net.ListenConfig{Control: reusePortControl}).ListenPacket(context.Background(), placeholderNetwork(addr), addr)
	if err != nil {
		return nil, err
	}
	g := &Gnet{
		h:         h,
		cfg:       cfg,
		hash:      newAddrHash(cfg.Loops),
		local:     localAddrPort(ph),
		socks:     make([]atomic.Pointer[gnetSock], cfg.Loops),
		started:   make(chan struct{}),
		runDone:   make(chan struct{}),
		probeSeen: make(chan struct{}, 1),
	}
	if !g.local.Addr().IsUnspecified() {
		g.localIP = g.local.Addr()
	}
	_, _ = rand.Read(g.nonce[:])
	g.probing.Store(true)

	network := "udp4"
	if g.local.Addr().Is6() {
		network = "udp6"
	}
	ev := &gnetEvents{g: g}
	go func() {
		defer close(g.runDone)
		g.runErr = gnet.Run(ev, network+"://"+ph.LocalAddr().String(),
			gnet.WithMulticore(cfg.Loops > 1),
			gnet.WithNumEventLoop(cfg.Loops),
			gnet.WithReusePort(true),
			gnet.WithTicker(true), // its first OnTick says the loops are up
			gnet.WithLogger(discardLogger{}),
		)
	}()
	select {
	case <-g.started:
		_ = ph.Close()
	case <-g.runDone:
		_ = ph.Close()
		if g.runErr == nil {
			g.runErr = errors.New("loop: gnet stopped before its loops started")
		}
		return nil, g.runErr
	}
	if err := g.probe(network); err != nil {
		_ = g.Close()
		return nil, err
	}
	g.probing.Store(false)
	return g, nil
}

// placeholderNetwork is "udp4" for an address whose host is an IPv4
// literal (0.0.0.0 included), "udp" otherwise.
func placeholderNetwork(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "udp"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return "udp4"
	}
	return "udp"
}

// probe sends probe datagrams from fresh source ports until every loop has
// registered its socket.
func (g *Gnet) probe(network string) error {
	dst := g.local
	if !g.localIP.IsValid() {
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if g.local.Addr().Is6() {
			lo = netip.IPv6Loopback()
		}
		dst = netip.AddrPortFrom(lo, g.local.Port())
	}
	timer := time.NewTimer(probeTimeout)
	defer timer.Stop()
	for i := 0; i < 64*g.cfg.Loops; i++ {
		g.regMu.Lock()
		n, err := g.nreg, g.regErr
		g.regMu.Unlock()
		if err != nil {
			return err
		}
		if n == len(g.socks) {
			return nil
		}
		pc, err := net.ListenUDP(network, nil)
		if err != nil {
			return err
		}
		_, err = pc.WriteToUDPAddrPort(g.nonce[:], dst)
		if err == nil {
			timer.Reset(probeTimeout)
			select {
			case <-g.probeSeen:
			case <-timer.C:
				err = errors.New("loop: a probe datagram never reached a gnet loop")
			case <-g.runDone:
				err = errors.New("loop: gnet stopped while its loops were probed")
			}
		}
		_ = pc.Close()
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("loop: %d probes reached fewer than %d gnet loops", 64*g.cfg.Loops, g.cfg.Loops)
}

func (e *gnetEvents) OnBoot(eng gnet.Engine) gnet.Action {
	e.g.eng = eng
	return gnet.None
}

// OnTick runs once, on gnet's ticker goroutine, which starts after every
// loop's socket is bound.
func (e *gnetEvents) OnTick() (time.Duration, gnet.Action) {
	e.startOnce.Do(func() { close(e.g.started) })
	return 24 * time.Hour, gnet.None
}

func (e *gnetEvents) OnTraffic(c gnet.Conn) gnet.Action {
	g := e.g
	if g.closed.Load() {
		return gnet.None
	}
	s := g.sockOf(c.Fd())
	if s == nil {
		if s = g.register(c.Fd()); s == nil {
			return gnet.None
		}
	}
	s.traffic(g, c)
	return gnet.None
}

// sockOf returns the registered socket whose fd is fd, or nil.
func (g *Gnet) sockOf(fd int) *gnetSock {
	for i := range g.socks {
		if s := g.socks[i].Load(); s != nil && s.fd == fd {
			return s
		}
	}
	return nil
}

// register makes the batchio.Conn of the calling loop's socket fd and
// gives the loop the next index. It returns nil on failure (reported by
// ListenGnet) or after Close.
func (g *Gnet) register(fd int) *gnetSock {
	g.regMu.Lock()
	defer g.regMu.Unlock()
	if g.regErr != nil || g.nreg == len(g.socks) || g.closed.Load() {
		return nil
	}
	conn, err := batchio.NewFD(uintptr(fd), g.cfg.Batch)
	if err != nil {
		g.regErr = err
		return nil
	}
	s := &gnetSock{idx: g.nreg, fd: fd, conn: conn, msgs: make([]batchio.Message, 1+conn.BatchSize())}
	s.parkFn = s.tryWrite
	g.socks[g.nreg].Store(s)
	g.nreg++
	return s
}

// traffic delivers gnet's datagram and drains the socket, on the loop.
func (s *gnetSock) traffic(g *Gnet, c gnet.Conn) {
	buf, _ := c.Next(-1) // gnet's loop buffer, valid until OnTraffic returns
	s.msgs[0] = batchio.Message{Buffer: buf, Addr: udpAddrPort(c.RemoteAddr()), Local: g.localIP}
	total, first := 0, 1
	if g.probing.Load() && g.isProbe(buf) {
		first = 0
	} else {
		s.ctr.engineReads.Add(1)
	}
	for {
		n, err := s.conn.ReadBatch(s.msgs[1:])
		if batch := s.msgs[1-first : 1+n]; len(batch) > 0 {
			if g.probing.Load() {
				batch = g.dropProbes(batch)
			}
			if len(batch) > 0 {
				s.ctr.delivering(len(batch))
				g.h.HandleBatch(s.idx, batch)
				total += len(batch)
			}
		}
		first = 0
		if err != nil {
			if !errors.Is(err, batchio.ErrWouldBlock) && !errors.Is(err, batchio.ErrClosed) {
				s.ctr.readErrors.Add(1)
			}
			break
		}
	}
	clear(s.msgs[:1]) // no reference to gnet's buffer past OnTraffic
	s.ctr.wakeup(total)
}

// dropProbes removes ListenGnet's probes from msgs (in place) and reports
// each one seen.
func (g *Gnet) dropProbes(msgs []batchio.Message) []batchio.Message {
	out := msgs[:0]
	for _, m := range msgs {
		if !g.isProbe(m.Buffer) {
			out = append(out, m)
		}
	}
	return out
}

// isProbe reports whether b is a probe of ListenGnet, and if so reports it
// seen.
func (g *Gnet) isProbe(b []byte) bool {
	if string(b) != string(g.nonce[:]) {
		return false
	}
	select {
	case g.probeSeen <- struct{}{}:
	default:
	}
	return true
}

// udpAddrPort converts gnet's remote address, IPv4 never v4-mapped.
func udpAddrPort(a net.Addr) netip.AddrPort {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// WriteBatch sends msgs and returns how many were sent, always a prefix of
// msgs; n < len(msgs) comes with the error that stopped msgs[n]. Each
// datagram leaves through the socket its destination hashes to, so one
// peer's datagrams keep their order. It reads the Buffers during the call
// only. The sockets are non-blocking (gnet's): when one's send buffer is
// full the call parks in Go's poller until it is writable (counted in
// Stats.WriteParks), without polling. It is safe for concurrent use. After
// Close it returns ErrClosed, which matches net.ErrClosed.
func (g *Gnet) WriteBatch(msgs []batchio.Message) (int, error) {
	if g.closed.Load() {
		return 0, ErrClosed
	}
	return writeRuns(g, g.hash, msgs)
}

func (g *Gnet) writeSocket(i int, msgs []batchio.Message) (int, error) {
	s := g.socks[i].Load()
	n, err := s.conn.WriteBatch(msgs)
	if errors.Is(err, batchio.ErrWouldBlock) {
		var m int
		m, err = s.park(msgs[n:])
		n += m
	}
	if err != nil && g.closed.Load() {
		err = ErrClosed
	}
	return n, err
}

// parkRecheck bounds one wait for writability before the send is tried
// again.
const parkRecheck = 20 * time.Millisecond

// park sends msgs, waiting in Go's poller whenever the send buffer is
// full. The first call makes a dup of the socket's fd known to the poller
// (os.NewFile registers a non-blocking fd with it); writes still go
// through the loop's fd, the same socket.
func (s *gnetSock) park(msgs []batchio.Message) (int, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	rc, err := s.parker()
	if err != nil {
		return 0, err
	}
	s.pmsgs, s.pn, s.perr = msgs, 0, nil
	for {
		// Wait at most parkRecheck, then try again: a writability edge
		// that the poller never reports (one an end-to-end run under
		// -race appeared to lose, leaving the loop parked while the
		// socket drained) then costs a moment, not the connection.
		_ = s.pfile.SetWriteDeadline(time.Now().Add(parkRecheck))
		err = rc.Write(s.parkFn) // tries first: a writability edge may be pending
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		s.rechecks.Add(1)
	}
	n := s.pn
	if err == nil {
		err = s.perr
	}
	s.pmsgs, s.perr = nil, nil
	return n, err
}

// tryWrite is parkFn: it sends what is left and asks to wait on EAGAIN.
func (s *gnetSock) tryWrite(uintptr) bool {
	n, err := s.conn.WriteBatch(s.pmsgs)
	s.pn += n
	s.pmsgs = s.pmsgs[n:]
	if errors.Is(err, batchio.ErrWouldBlock) {
		s.parks.Add(1)
		return false
	}
	s.perr = err
	return true
}

// parker returns the RawConn to wait on, making it at the first park.
func (s *gnetSock) parker() (syscall.RawConn, error) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.prc != nil {
		return s.prc, nil
	}
	if s.parkClosed {
		return nil, ErrClosed
	}
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "petrel-loop-park")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.pfile, s.prc = f, rc
	return rc, nil
}

// closePark closes the park file, which wakes a parked writer; later
// parks fail.
func (s *gnetSock) closePark() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.pfile != nil {
		_ = s.pfile.Close()
	}
	s.parkClosed = true
}

// LocalAddr is the address every socket is bound to (IPv4 never
// v4-mapped).
func (g *Gnet) LocalAddr() netip.AddrPort { return g.local }

// Loops is the number of event loops, each with its socket.
func (g *Gnet) Loops() int { return len(g.socks) }

// Stats returns a snapshot of the counters, summed over the loops.
func (g *Gnet) Stats() Stats {
	var st Stats
	for i := range g.socks {
		if s := g.socks[i].Load(); s != nil {
			s.ctr.addTo(&st)
			st.WriteParks += s.parks.Load()
			st.WriteRechecks += s.rechecks.Load()
			addIO(&st.IO, s.conn.Stats())
		}
	}
	return st
}

// Close stops the driver: WriteBatch calls parked on a full send buffer
// wake and return ErrClosed, the batchio.Conns close (waiting for system
// calls in flight, so no call touches a socket gnet then closes), gnet's
// engine stops, and Close waits for gnet.Run to return: once Close returns
// no HandleBatch runs and no goroutine of the driver or of gnet is left.
// It is idempotent; a second call waits for the first and returns nil. It
// must not be called from HandleBatch.
func (g *Gnet) Close() error {
	first := false
	g.closeOnce.Do(func() {
		first = true
		g.regMu.Lock()
		g.closed.Store(true) // under regMu: no registration after this
		g.regMu.Unlock()
		for i := range g.socks {
			if s := g.socks[i].Load(); s != nil {
				s.closePark()
				_ = s.conn.Close()
			}
		}
		// Engine.Stop polls every 500 ms for the engine to finish; with a
		// context already cancelled it only starts the shutdown, and
		// runDone says when it is done.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.eng.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, gerrors.ErrEngineInShutdown) {
			g.closeErr = err
		}
		<-g.runDone
	})
	if first {
		return g.closeErr
	}
	return nil
}

// discardLogger silences gnet: the driver reports through Stats and errors.
type discardLogger struct{}

func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Fatalf(string, ...any) {}
