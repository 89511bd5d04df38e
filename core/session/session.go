package session

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
	"github.com/petrel-transport/petrel/tracker"
)

// messageStream is the stream id of the reliable ordered message stream.
const messageStream = 0

// Session is one connection after its handshake.
//
// Guard map: cfg, prot, tr, flight, cc and bigBufs are immutable after New.
// alive and the counters in stats are atomic. flushers counts the sender
// goroutines (at most one runs); it is Added under mu, never once closed is
// set. rxMu serialises the receive path's own state (replay window, frame
// parser, rxLargest, ackRanges) and the Protector's Open and Close. mu
// guards every field below it. Lock order: rxMu -> mu. Neither is held
// across Sender.Send, a callback or a wheel Advance; the seal of a packet
// happens outside mu.
type Session struct {
	cfg     Config
	prot    *secure.Protector
	tr      *tracker.Tracker
	flight  *congestion.FlightSize
	cc      congestion.Controller
	bigBufs bool // packets may outgrow the small buffer pool

	alive atomic.Bool
	stats counters

	out      emitter
	flushers sync.WaitGroup
	flushFn  func() // s.flushLoop, bound once

	connConsumed atomic.Uint64 // bytes read (or discarded) from every stream: readers add without mu
	connLimitA   atomic.Uint64 // connLimit, published for readers

	parkedWriters atomic.Int32  // stream writers parked in waitRoom (added under mu)
	connWindowA   atomic.Uint64 // connWindow, published for readers (another stream's reader may grow it)

	rxMu      sync.Mutex
	replay    secure.ReplayWindow
	parser    wire.FrameParser
	rxLargest uint64
	ackRanges []tracker.AckRange // scratch for OnAck
	// The callbacks handleLocked found due, for HandlePacket to run once
	// it released rxMu: OnConfirmed, and OnRemoteChange with this address.
	rxConfirmed bool
	rxMoved     netip.AddrPort

	mu             sync.Mutex
	remote         netip.AddrPort
	nextPN         uint64
	emitSeq        uint64 // the next batch's place in the emission order
	largestAcked   uint64
	hasAcked       bool
	largestTracked uint64 // the largest packet number registered in the tracker
	hasTracked     bool
	rtt            congestion.RTT
	pacer          *congestion.Pacer
	acks           ackState
	ackBuf         []byte     // scratch: the ACK frame of the packet being packed
	msg            *Stream    // the message stream's send side (its receive side is recv)
	recv           recvStream // the message stream's receive side
	log            sentLog
	retx           []retxItem       // lost stream ranges to send again, oldest first
	resends        []tracker.Resend // scratch for DueForResend
	probes         int              // packets that may leave whatever the window (PTO probes)
	maxDgram       int              // the size packets are built for: path MTU discovery moves it (pmtud.go)
	pm             pmtud
	pingDue        bool

	// Streams (streams.go).
	streams         map[uint64]*Stream // byte streams not yet ended, by id
	sendq           streamQueue        // streams with bytes or a FIN to send: round-robin by packet
	ctlq            streamQueue        // streams with a MAX_STREAM_DATA or STREAM_ABORT due
	accepts         []*Stream          // streams the peer opened, not yet accepted
	acceptable      waker              // wakes AcceptStream
	openable        waker              // wakes OpenStream
	localOpened     uint64             // streams this side opened
	peerOpened      uint64             // streams the peer opened (the highest number)
	peerMaxStreams  uint64             // streams this side may open (cumulative, the peer's MAX_STREAMS)
	localMaxStreams uint64             // streams the peer may open (cumulative, announced)
	incomingDone    uint64             // streams the peer opened that ended
	maxStreamsDue   bool

	// Connection flow control (streams.go).
	connCredit   uint64 // the peer's MAX_DATA
	connSent     uint64 // the sum over streams of the highest offset sent
	connRecvd    uint64 // the sum over streams of the highest offset received
	connLimit    uint64 // our MAX_DATA
	connWindow   uint64
	connGrantDue bool
	unsent       uint64 // bytes written to byte streams and never sent
	pcEpisode    bool   // persistent congestion was declared in this run of PTOs
	abandoned    bool   // data was lost after MaxRetransmits: the session must fail
	lastRecv     monotime.Time
	lastSent     monotime.Time // last ack-eliciting packet sent
	writers      int           // writers parked on progress
	progress     waker         // wakes parked writers: the window, the credit or the pacer may have opened
	readable     waker         // wakes parked readers: a message may be ready
	closed       bool
	closeErr     error
	flushing     bool   // the sender goroutine runs (see SendMessage)
	handoffs     uint64 // writes left to the sender goroutine; it stops once a round saw none
	confirmed    bool   // the peer proved it holds the keys (always true for the initiator)

	lossTimer, ackTimer, paceTimer, liveTimer, mtuTimer wheel.Timer
}

// retxItem is a lost packet's stream range waiting to be sent again under a
// new packet number (tracker.Retransmit from lost).
type retxItem struct {
	lost uint64
	st   *Stream
	off  uint64
	n    uint32
	fin  bool
	// claimed: the rest of a range cut to fit smaller datagrams, whose
	// first piece's Retransmit already resolved lost (pack.go,
	// splitRetxLocked); it is sent as new packets of the stream.
	claimed bool
}

// New returns a running session. From here on the session owns
// cfg.Protector.
func New(cfg Config) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		if cfg.Protector != nil {
			cfg.Protector.Close()
		}
		return nil, err
	}
	s := &Session{
		cfg:             cfg,
		prot:            cfg.Protector,
		flight:          new(congestion.FlightSize),
		maxDgram:        baseDatagram,
		bigBufs:         cfg.maxDatagram()+secure.SealOverhead > smallBuf,
		rxLargest:       wire.NoPacketReceived,
		remote:          cfg.Remote,
		rtt:             congestion.NewRTT(cfg.Peer.MaxAckDelay),
		acks:            newAckState(cfg.Local.MaxAckDelay),
		connCredit:      cfg.Peer.InitialMaxData,
		connLimit:       cfg.Local.InitialMaxData,
		connWindow:      cfg.Local.InitialMaxData,
		peerMaxStreams:  cfg.Peer.MaxStreams,
		localMaxStreams: cfg.Local.MaxStreams,
	}
	s.connLimitA.Store(s.connLimit)
	s.connWindowA.Store(s.connWindow)
	s.msg = &Stream{s: s, id: messageStream, local: true, credit: cfg.Peer.InitialMaxStreamData}
	s.msg.send.id = messageStream
	s.recv = recvStream{limit: cfg.Local.InitialMaxStreamData, window: cfg.Local.InitialMaxStreamData, maxMsg: cfg.MaxMessageSize}
	if s.tr, err = tracker.New(s.flight, tracker.Config{MaxRetransmits: cfg.MaxRetransmits}); err != nil {
		cfg.Protector.Close()
		return nil, err
	}
	s.pm.init(cfg.maxDatagram(), !cfg.DisablePathMTUDiscovery)
	mss := uint64(s.maxDgram)
	switch cfg.Congestion {
	case LEDBAT:
		s.cc, err = congestion.NewLEDBAT(congestion.LEDBATConfig{MaxDatagramSize: mss})
	case FixedRate:
		s.cc, err = congestion.NewFixedRate(congestion.FixedRateConfig{Rate: cfg.FixedRate, MaxDatagramSize: mss})
	default:
		s.cc, err = congestion.NewCubic(congestion.CubicConfig{MaxDatagramSize: mss, InitialWindowPackets: uint64(cfg.InitialWindowPackets)})
	}
	if err == nil {
		s.pacer, err = congestion.NewPacer(s.cc, congestion.PacerConfig{MaxDatagramSize: mss, TimerGranularity: cfg.Wheel.Tick()})
	}
	if err != nil {
		cfg.Protector.Close()
		return nil, err
	}
	now := cfg.Clock()
	s.lastRecv, s.lastSent = now, now
	s.confirmed = !cfg.Responder
	s.pingDue = !cfg.Responder
	s.flushFn = s.flushLoop
	s.lossTimer.Init(cfg.Wheel, s.onLossTimer)
	s.ackTimer.Init(cfg.Wheel, s.onAckTimer)
	s.paceTimer.Init(cfg.Wheel, s.onPaceTimer)
	s.liveTimer.Init(cfg.Wheel, s.onLiveTimer)
	s.mtuTimer.Init(cfg.Wheel, s.onMTUTimer)
	s.alive.Store(true)
	s.armLiveLocked()
	return s, nil
}

// IsAlive reports whether the session can still carry traffic: true until
// it ends, then false for good.
func (s *Session) IsAlive() bool { return s.alive.Load() }

// Remote returns the peer's current address.
func (s *Session) Remote() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remote
}

// LocalCID returns the connection id the peer's packets carry.
func (s *Session) LocalCID() wire.ConnID { return s.cfg.LocalCID }

// RemoteCID returns the connection id this side's packets carry (the
// peer's LocalCID).
func (s *Session) RemoteCID() wire.ConnID { return s.cfg.RemoteCID }

// Err returns why the session ended, nil while it is alive (ErrClosed after
// a local Close).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeErr
}

// FlightSize returns the session's bytes in flight counter (for tests and
// stats: at quiescence it is 0).
func (s *Session) FlightSize() *congestion.FlightSize { return s.flight }

// Tracker returns the session's sent-packet tracker (read-only use: stats).
func (s *Session) Tracker() *tracker.Tracker { return s.tr }

// signalLocked wakes parked message writers and one parked stream writer
// whose stream has data queued: the window, a credit or the pacer may have
// opened, and the writer it wakes packs for every stream (pump is not
// per stream). It reports whether it woke a stream writer.
func (s *Session) signalLocked() bool {
	s.progress.wake()
	woke := false
	if s.parkedWriters.Load() == 0 {
		return false // it runs on every ACK: no scan of the send queue when nobody waits
	}
	s.sendq.each(func(st *Stream) bool {
		if st.id != messageStream && st.err == nil && st.wrWaiting.Load() {
			st.wakeWriter()
			woke = true
			return false
		}
		return true
	})
	return woke
}

// readableLocked wakes parked readers.
func (s *Session) readableLocked() { s.readable.wake() }

// armLiveLocked arms the idle/keepalive timer at the earlier of the two.
func (s *Session) armLiveLocked() {
	at := s.lastRecv.Add(s.cfg.IdleTimeout)
	if s.cfg.KeepaliveInterval > 0 {
		at = min(at, s.lastSent.Add(s.cfg.KeepaliveInterval))
	}
	s.cfg.Wheel.Reset(&s.liveTimer, at)
}
