package core

// The transport under a Node opened by Listen: it turns datagrams into
// sessions and sessions into datagrams.
//
//	driver loop ── HandleBatch ──┬─ handshake datagram ─> responder (initiation)
//	                             │                      └> dial in flight (response, cookie reply)
//	                             └─ short-header packets, split by their Length
//	                                 ─> connection id ─> session.HandlePacket
//	                             then, once per batch, Flush of every session
//	                             touched (ACKs that came due, data the ACKs freed)
//	sessions ── Send ─> pooled batchio.Messages ─> Driver.WriteBatch (GSO runs)
//
// One lock-free map load per packet finds the session; nothing is handed to
// another goroutine on the receive path.

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v3"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
)

// maxLoops bounds the loops a driver may report (per-loop scratch).
const maxLoops = 64

// sendBacklog is each connection's session.Config.SendBacklog: SendMessage
// returns at once while the bytes written and never sent stay within it,
// and the connection's sender goroutine sends them, many messages to a
// packet and many packets to a system call (as a socket's send buffer lets
// a TCP writer go on). 64 KiB: a message larger than that is sent by its
// writer, which seals it on its own goroutine; with 256 KiB, 64 KB messages
// went no faster over loopback (BenchmarkMessages/64KB).
const sendBacklog = 64 << 10

// engine is the transport of one Node.
//
// Guard map: n, cfg, kp, resp, admit and drv are immutable once Listen
// returns (drv is set before the driver can deliver: see ListenDriver).
// conns, dials and joins are concurrent maps. loops[i] is owned by driver
// loop i.
// drops are atomic.
type engine struct {
	n       *Node
	cfg     TransportConfig
	kp      secure.KeyPair
	resp    *secure.Responder
	admit   *secure.Budget
	stamper secure.Stamper
	drv     Driver
	ready   chan struct{} // closed once drv is set

	conns   *xsync.MapOf[wire.ConnID, *Conn]
	dials   *xsync.MapOf[wire.ConnID, *dialing]
	joins   *xsync.MapOf[PeerKey, *joinedDial] // Node.Dial calls in flight
	accepts chan *Conn

	loops   [maxLoops]loopScratch
	drops   dropCounters
	retired retired
}

// loopScratch is one driver loop's scratch, padded so loops do not share a
// cache line.
type loopScratch struct {
	touched []*Conn
	reply   []byte
	params  []byte
	_       [64]byte
}

// dropCounters count datagrams and packets dropped before reaching a
// session, by reason (see DropCounts; sessions count their own).
type dropCounters struct {
	BadHeader      atomic.Uint64 // unparseable packet header or length
	UnknownConnID  atomic.Uint64 // no session has the destination connection id
	Handshake      atomic.Uint64 // initiations refused (MAC, decrypt, replay, malformed)
	OverBudget     atomic.Uint64 // initiations refused for the handshake budget or the backlog
	CookieRequired atomic.Uint64 // initiations answered with a retry cookie
	StrayReply     atomic.Uint64 // responses and cookie replies matching no dial
	Unconfirmed    atomic.Uint64 // answered initiations never confirmed
}

func newEngine(n *Node, cfg TransportConfig) (*engine, error) {
	e := &engine{
		n:       n,
		cfg:     cfg,
		kp:      *cfg.Identity,
		admit:   secure.NewBudget(cfg.HandshakeBudget),
		conns:   xsync.NewMapOf[wire.ConnID, *Conn](),
		dials:   xsync.NewMapOf[wire.ConnID, *dialing](),
		joins:   xsync.NewMapOf[PeerKey, *joinedDial](),
		accepts: make(chan *Conn, cfg.AcceptBacklog),
		ready:   make(chan struct{}),
	}
	var err error
	e.resp, err = secure.NewResponder(secure.ResponderConfig{
		Static:     &e.kp,
		CookieMode: cfg.CookieMode,
		Admission:  e.admit,
		Replay:     &peerStamps{e: e, lru: secure.NewTimestampTable(replayTableLimit)},
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// HandleBatch implements Handler.
func (e *engine) HandleBatch(loop int, msgs []batchio.Message) {
	<-e.ready
	if loop < 0 || loop >= maxLoops {
		loop = 0 // a driver breaking its contract: stay correct, if slower
	}
	ls := &e.loops[loop]
	now := e.n.clock.Now()
	for i := range msgs {
		d, from := msgs[i].Buffer, msgs[i].Addr
		if len(d) == 0 {
			continue
		}
		if wire.IsHandshake(d) {
			e.handshake(ls, d, from)
			continue
		}
		for len(d) > 0 {
			pkt, rest, err := wire.SplitPacket(d)
			if err != nil || len(pkt) < 1+wire.ConnIDLen {
				e.drops.BadHeader.Add(1)
				break
			}
			d = rest
			c, ok := e.conns.Load(wire.ConnID(pkt[1 : 1+wire.ConnIDLen]))
			if !ok {
				e.drops.UnknownConnID.Add(1)
				continue
			}
			c.s.HandlePacket(pkt, from, now)
			if n := len(ls.touched); n == 0 || ls.touched[n-1] != c {
				ls.touched = append(ls.touched, c)
			}
		}
	}
	for i, c := range ls.touched {
		if !seenBefore(ls.touched[:i], c) {
			c.s.Flush(now)
			if p := c.peer.Load(); p != nil {
				p.Touch(now)
			}
		}
		ls.touched[i] = nil
	}
	ls.touched = ls.touched[:0]
}

// seenBefore reports whether c is in list (a batch touches few sessions).
func seenBefore(list []*Conn, c *Conn) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// outBatch is the scratch of one Send.
type outBatch struct{ msgs []batchio.Message }

var outBatches = sync.Pool{New: func() any { return &outBatch{msgs: make([]batchio.Message, 0, 64)} }}

// Send implements session.Sender over the driver.
func (e *engine) Send(to netip.AddrPort, pkts [][]byte) error {
	b := outBatches.Get().(*outBatch)
	for _, p := range pkts {
		b.msgs = append(b.msgs, batchio.Message{Buffer: p, Addr: to})
	}
	_, err := e.drv.WriteBatch(b.msgs)
	clear(b.msgs)
	b.msgs = b.msgs[:0]
	outBatches.Put(b)
	return err
}

var _ session.Sender = (*engine)(nil)

// sendRaw sends one datagram (handshake messages).
func (e *engine) sendRaw(to netip.AddrPort, d []byte) {
	_ = e.Send(to, [][]byte{d})
}

// newConnID picks a random connection id not in use (RFC 9000 section 5.1:
// unpredictable, so an off-path attacker cannot aim packets at a session).
func (e *engine) newConnID() wire.ConnID {
	for {
		var id wire.ConnID
		if _, err := rand.Read(id[:]); err != nil {
			panic("core: crypto/rand failed: " + err.Error())
		}
		if _, taken := e.conns.Load(id); !taken && id != (wire.ConnID{}) {
			if _, dialing := e.dials.Load(id); !dialing {
				return id
			}
		}
	}
}

// localParams are the transport parameters this node announces.
func (e *engine) localParams(cid wire.ConnID) wire.TransportParams {
	p := wire.DefaultTransportParams()
	p.ConnID = cid
	p.IdleTimeout = e.n.cfg.IdleTimeout
	p.MaxDatagramSize = uint64(e.cfg.MaxDatagramSize)
	p.InitialMaxData = uint64(e.cfg.ConnectionWindow)
	p.InitialMaxStreamData = uint64(e.cfg.ReceiveWindow)
	p.MaxStreams = uint64(e.cfg.MaxIncomingStreams)
	return p
}

// newConn builds the connection of a completed handshake. keys are zeroed.
func (e *engine) newConn(key PeerKey, keys *secure.Keys, local, remote wire.ConnID, addr netip.AddrPort,
	ours, theirs wire.TransportParams, responder bool, pending *secure.Pending) (*Conn, error) {
	prot, err := keys.Protector(secure.ProtectorConfig{})
	if err != nil {
		return nil, err
	}
	c := &Conn{n: e.n, key: key, incoming: responder, suite: keys.Suite, cid: local, pending: pending}
	if pending != nil {
		c.settled = make(chan struct{})
	}
	c.deadline.Init(e.n.wheel, c.onDeadline)
	c.s, err = session.New(session.Config{
		Protector:               prot,
		LocalCID:                local,
		RemoteCID:               remote,
		Remote:                  addr,
		Out:                     e,
		Wheel:                   e.n.wheel,
		Clock:                   e.n.clock.Now,
		Local:                   ours,
		Peer:                    theirs,
		Congestion:              e.cfg.Congestion,
		FixedRate:               e.cfg.FixedRate,
		DisablePathMTUDiscovery: e.cfg.DisablePathMTUDiscovery,
		InitialWindowPackets:    e.cfg.InitialWindowPackets,
		MaxMessageSize:          e.cfg.MaxMessageSize,
		SendBacklog:             sendBacklog,
		StreamSendBuffer:        e.cfg.StreamSendBuffer,
		MaxStreamWindow:         uint64(e.cfg.MaxReceiveWindow),
		MaxConnWindow:           uint64(e.cfg.MaxConnectionWindow),
		WindowWaitTimeout:       e.cfg.WindowWaitTimeout,
		StreamInactivityTimeout: e.cfg.StreamInactivityTimeout,
		IdleTimeout:             e.n.cfg.IdleTimeout,
		KeepaliveInterval:       -1, // the Node's liveness timer sends keepalives (reaper.go)
		Responder:               responder,
		OnConfirmed:             c.onConfirmed,
		OnClose:                 c.onClose,
		OnRemoteChange:          c.onRemoteChange,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// errNoAddr is returned by a dial of a peer without an address.
var errNoAddr = errors.New("core: peer has no address to dial")

// joinDial registers a Node.Dial of key. first reports whether the caller
// is the one to dial (it then calls dialEnded with done); otherwise done is
// closed when the Dial in flight ends.
func (e *engine) joinDial(key PeerKey) (d *joinedDial, first bool) {
	d, loaded := e.joins.LoadOrStore(key, &joinedDial{done: make(chan struct{})})
	return d, !loaded
}

// dialEnded ends the Dial that joinDial let first with its error, waking
// the others.
func (e *engine) dialEnded(key PeerKey, d *joinedDial, err error) {
	d.err = err
	e.joins.Delete(key)
	close(d.done)
}

// joinedDial is one Node.Dial's dial that others of the same peer wait
// for. err is written once, before done is closed, and read after.
type joinedDial struct {
	done chan struct{}
	err  error
}
