package session_test

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// The harness runs inside a testing/synctest bubble: time is virtual and
// advances only when every goroutine of the bubble is blocked, so a test
// that moves megabytes over a lossy 20 ms path takes no wall-clock waiting
// and no sleeps.

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:1000")
	addrB = netip.MustParseAddrPort("10.0.0.2:2000")
)

// clock is monotime on the bubble's virtual time.
type clock struct{ start time.Time }

func (c clock) now() monotime.Time { return monotime.Time(time.Since(c.start)) }

// link is one direction of the simulated path: a netem Pipe delivering to
// dst's HandlePacket on its own goroutine, one Flush per delivery instant.
type link struct {
	clk  clock
	mu   sync.Mutex
	pipe *netem.Pipe
	dst  *session.Session
	from netip.AddrPort
	wake chan struct{}
	done chan struct{}
	// intercept, when set, sees every delivered packet first (tests of
	// hostile input); it returns false to drop it.
	intercept func(pkt []byte) bool
	// blackhole, while set, drops every packet on delivery (a path that
	// went dark).
	blackhole atomic.Bool
	// failSends, while set, makes Send fail as a closed socket does.
	failSends atomic.Bool
	// onSend, when set, is called at the start of every Send, on the
	// sending goroutine (tests of what a caller sees at a given step of
	// the sender, e.g. between Close's two steps).
	onSend atomic.Pointer[func()]
	// mtu, when set, is the path's IP MTU: a datagram whose IPv4 packet
	// (payload + 28 bytes of IP and UDP headers) exceeds it is dropped, as
	// a router drops a packet with DF set (the ICMP it would send is not
	// relied on, RFC 8899 section 1).
	mtu atomic.Int64
	// localMTU, when set, makes Send refuse a batch holding a datagram
	// above it with EMSGSIZE, as the kernel does for a socket with DF set
	// whose interface MTU is too small (the datagrams before it leave).
	localMTU atomic.Int64
	// tooBig counts the datagrams mtu dropped.
	tooBig atomic.Int64
}

// ipUDPOverhead is the IPv4 and UDP header bytes around a datagram.
const ipUDPOverhead = 28

func (l *link) Send(_ netip.AddrPort, pkts [][]byte) error {
	if f := l.onSend.Load(); f != nil {
		(*f)()
	}
	if l.failSends.Load() {
		return net.ErrClosed
	}
	now := l.clk.now()
	var err error
	if m := l.localMTU.Load(); m > 0 {
		for i, p := range pkts {
			if int64(len(p)+ipUDPOverhead) > m {
				pkts, err = pkts[:i], os.NewSyscallError("sendmmsg", syscall.EMSGSIZE)
				break
			}
		}
	}
	mtu := l.mtu.Load()
	l.mu.Lock()
	for _, p := range pkts {
		if mtu > 0 && int64(len(p)+ipUDPOverhead) > mtu {
			l.tooBig.Add(1)
			continue
		}
		l.pipe.Send(now, p)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return err
}

func (l *link) run(wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due [][]byte
	for {
		now := l.clk.now()
		l.mu.Lock()
		due = l.pipe.Receive(now, due[:0])
		next, ok := l.pipe.Next()
		l.mu.Unlock()
		if len(due) > 0 {
			for _, p := range due {
				if !l.blackhole.Load() && (l.intercept == nil || l.intercept(p)) {
					l.dst.HandlePacket(p, l.from, now)
				}
				l.mu.Lock()
				l.pipe.Release(p)
				l.mu.Unlock()
			}
			l.dst.Flush(now)
			continue
		}
		wait := time.Hour
		if ok {
			wait = max(next.Sub(now), 0)
		}
		t.Reset(wait)
		select {
		case <-l.wake:
		case <-t.C:
		case <-l.done:
			return
		}
	}
}

// pair is two sessions over two links, with one wheel driven by a 1 ms
// ticker.
type pair struct {
	a, b   *session.Session
	ab, ba *link
	wheel  *wheel.Wheel
	clk    clock
	done   chan struct{}
	wg     sync.WaitGroup
}

type pairConfig struct {
	ab, ba   netem.Config // impairments, A->B and B->A
	cfgA     session.Config
	cfgB     session.Config
	suite    secure.AEAD
	onCloseA func(error)
	onCloseB func(error)
	// fromA, if valid, is the source address B sees on A's packets (a
	// rebinding: B was configured with addrA).
	fromA netip.AddrPort
}

// newPair must run inside a synctest bubble.
func newPair(t *testing.T, pc pairConfig) *pair {
	t.Helper()
	clk := clock{start: time.Now()}
	w, err := wheel.New(clk.now(), wheel.Config{Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{wheel: w, clk: clk, done: make(chan struct{})}
	mk := func(c netem.Config, from netip.AddrPort) *link {
		pipe, err := netem.NewPipe(c)
		if err != nil {
			t.Fatal(err)
		}
		return &link{clk: clk, pipe: pipe, from: from, wake: make(chan struct{}, 1), done: p.done}
	}
	p.ab, p.ba = mk(pc.ab, addrA), mk(pc.ba, addrB)
	if pc.fromA.IsValid() {
		p.ab.from = pc.fromA
	}
	var s1, s2 [32]byte
	for i := range s1 {
		s1[i], s2[i] = byte(i), byte(100+i)
	}
	a := pc.suite
	if a == 0 {
		a = secure.AES128GCM
	}
	pa, err := secure.NewProtector(a, &s1, &s2, secure.ProtectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := secure.NewProtector(a, &s2, &s1, secure.ProtectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cidA, cidB := wire.ConnID{1}, wire.ConnID{2}
	ca := pc.cfgA
	ca.Protector, ca.LocalCID, ca.RemoteCID, ca.Remote, ca.Out, ca.Wheel, ca.Clock, ca.OnClose = pa, cidA, cidB, addrB, p.ab, w, clk.now, pc.onCloseA
	cb := pc.cfgB
	cb.Protector, cb.LocalCID, cb.RemoteCID, cb.Remote, cb.Out, cb.Wheel, cb.Clock, cb.OnClose = pb, cidB, cidA, addrA, p.ba, w, clk.now, pc.onCloseB
	if p.a, err = session.New(ca); err != nil {
		t.Fatal(err)
	}
	if p.b, err = session.New(cb); err != nil {
		t.Fatal(err)
	}
	p.ab.dst, p.ba.dst = p.b, p.a
	p.wg.Add(3)
	go p.ab.run(&p.wg)
	go p.ba.run(&p.wg)
	go p.tick()
	return p
}

func (p *pair) tick() {
	defer p.wg.Done()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-tk.C:
			p.wheel.Advance(p.clk.now())
		case <-p.done:
			return
		}
	}
}

// stop closes both sessions and ends the harness's goroutines.
func (p *pair) stop() {
	p.a.Close()
	p.b.Close()
	close(p.done)
	p.wg.Wait()
}
