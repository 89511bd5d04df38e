package core

import (
	"fmt"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
)

// DriverKind selects the I/O driver Listen opens.
type DriverKind uint8

const (
	// DriverGnet runs gnet event loops that drain their sockets with
	// recvmmsg/GRO and send with sendmmsg/GSO (core/loop). The default.
	DriverGnet DriverKind = iota
	// DriverPoller runs one goroutine per socket on Go's runtime poller,
	// with the same batching (core/loop): the portable fallback.
	DriverPoller
)

// Transport defaults.
const (
	// DefaultHandshakeRTO is the first retransmission timeout of a
	// handshake initiation; it doubles per attempt up to
	// MaxHandshakeRTO. RFC 9002 section 6.2.2's initial PTO for an unknown
	// path is 3 x kInitialRtt (333 ms) = 1 s; a handshake is one small
	// datagram each way, so half of it keeps a lost initiation cheap.
	DefaultHandshakeRTO = 500 * time.Millisecond
	// MaxHandshakeRTO caps the backoff (WireGuard's REKEY_TIMEOUT is 5 s).
	MaxHandshakeRTO = 4 * time.Second
	// DefaultAcceptBacklog bounds the established incoming connections
	// waiting for Accept: 128, listen(2)'s traditional SOMAXCONN.
	DefaultAcceptBacklog = 128
	// DefaultTransportIdleTimeout and DefaultTransportKeepalive are the
	// liveness defaults of a Node opened by Listen (the session engine's:
	// 30 s idle, a keepalive after 10 s of silence).
	DefaultTransportIdleTimeout = session.DefaultIdleTimeout
	DefaultTransportKeepalive   = session.DefaultKeepaliveInterval
	// DefaultMaxDatagramSize is the ceiling of path MTU discovery: 1452
	// bytes, an Ethernet MTU (1500) less the IPv6 (40) and UDP (8)
	// headers, which IPv4's 28 leave room for; quic-go's default too.
	DefaultMaxDatagramSize = 1452
)

// TransportConfig is the part of Config that a Node opened by Listen uses
// (a Node made with New carries sessions it is given and ignores it). Every
// zero value is a documented default.
type TransportConfig struct {
	// Identity is the node's static key pair; its public key is the node's
	// PeerKey (Config.Local must be zero or equal to it). Nil: a new pair
	// is generated.
	Identity *secure.KeyPair
	// Driver selects the I/O driver. Zero: DriverGnet.
	Driver DriverKind
	// Loops is the number of event loops (SO_REUSEPORT sockets). Zero: 1.
	Loops int
	// Batch configures the sockets' batching (batchio). Zero: batchio's
	// defaults (recvmmsg/sendmmsg, GSO and GRO where the kernel has them).
	// DisableGSO, DisableGRO and DisableMmsg turn each mechanism off, to
	// measure its share (bench/transfer BenchmarkAblation) or to run where
	// the kernel refuses it.
	Batch batchio.Config

	// Suite is the handshake and packet-protection suite of dials. Zero:
	// secure.DefaultSuite() (AES-GCM where the CPU has AES instructions).
	// A node accepts either suite from a dialler; Conn.Suite reports the
	// one a connection uses.
	Suite secure.Suite
	// CookieMode says when to answer an initiation with a retry cookie.
	// Zero: secure.CookieUnderLoad.
	CookieMode secure.CookieMode
	// HandshakeBudget bounds handshakes admitted and connections not yet
	// accepted. Zero: secure.DefaultHandshakeBudget.
	HandshakeBudget int
	// HandshakeRTO is the first retransmission timeout of an initiation.
	// Zero: DefaultHandshakeRTO.
	HandshakeRTO time.Duration
	// AcceptBacklog bounds the incoming connections waiting for Accept;
	// beyond it initiations are refused as busy. Zero: DefaultAcceptBacklog.
	AcceptBacklog int

	// MaxMessageSize bounds one message. Zero: session.DefaultMaxMessageSize.
	MaxMessageSize int
	// MaxDatagramSize is the largest datagram this node sends or receives:
	// announced to peers (max_udp_payload_size, RFC 9000 section 18.2),
	// and the ceiling of path MTU discovery, which starts every connection
	// at 1200 bytes (no IP fragmentation on any path that carries IPv6's
	// minimum MTU; sockets send with DF) and raises the size as the path
	// proves it carries more (DPLPMTUD, RFC 8899), falling back to 1200
	// if the path stops carrying it. Zero: DefaultMaxDatagramSize (1452,
	// an Ethernet MTU of 1500 less IPv6 and UDP headers; quic-go's
	// default). 1200 turns path MTU discovery off.
	MaxDatagramSize int
	// DisablePathMTUDiscovery keeps every datagram at 1200 bytes. Zero
	// (false): path MTU discovery up to MaxDatagramSize (the smaller of
	// this node's and the peer's).
	DisablePathMTUDiscovery bool
	// InitialWindowPackets is the CUBIC congestion controller's initial
	// window in datagrams of the current size. Zero: RFC 9002 section
	// 7.2's 10 datagrams (min(10*size, max(14720, 2*size)) bytes).
	// quic-go starts at 32.
	InitialWindowPackets int
	// ReceiveWindow is each stream's initial flow-control window (and the
	// message stream's). Zero: session.DefaultWindow, or twice
	// MaxMessageSize if that is larger.
	ReceiveWindow int
	// ConnectionWindow is the connection's initial flow-control window,
	// over all its streams. Zero: four ReceiveWindows.
	ConnectionWindow int
	// MaxReceiveWindow and MaxConnectionWindow cap the auto-tuned stream
	// and connection windows (they grow toward the path's bandwidth-delay
	// product). Zero: session.DefaultMaxStreamWindow and
	// session.DefaultMaxConnWindow (or the initial windows if larger).
	MaxReceiveWindow, MaxConnectionWindow int
	// MaxIncomingStreams is how many streams a peer may have open at once
	// on a connection. Zero: session.DefaultMaxStreams (100).
	MaxIncomingStreams int
	// StreamSendBuffer bounds a stream's bytes written and not yet sent
	// (Write parks above it). Zero: session.DefaultStreamSendBuffer.
	StreamSendBuffer int
	// WindowWaitTimeout aborts a stream whose written bytes waited this
	// long for congestion window or flow-control credit. Zero:
	// session.DefaultWindowWaitTimeout (3 s); negative: never.
	WindowWaitTimeout time.Duration
	// StreamInactivityTimeout aborts a stream a peer opened that brought
	// nothing for this long while it could send. Zero:
	// session.DefaultStreamInactivityTimeout (5 s); negative: never.
	StreamInactivityTimeout time.Duration
	// Congestion selects the controller. Zero: CUBIC.
	Congestion session.Controller
	// FixedRate is the FixedRate controller's rate in bytes per second.
	FixedRate uint64
}

// withTransportDefaults fills the transport defaults of a Listen config.
func (c Config) withTransportDefaults() (Config, error) {
	t := &c.Transport
	if t.Identity == nil {
		kp, err := secure.GenerateKeyPair(nil)
		if err != nil {
			return c, fmt.Errorf("core: generate identity: %w", err)
		}
		t.Identity = &kp
	}
	pub := PeerKey(t.Identity.Public)
	if !c.Local.IsZero() && c.Local != pub {
		return c, fmt.Errorf("core: Config.Local differs from the identity's public key")
	}
	c.Local = pub
	if t.Loops == 0 {
		t.Loops = 1
	}
	if t.Loops < 0 {
		return c, fmt.Errorf("core: Transport.Loops %d is negative", t.Loops)
	}
	for _, f := range []struct {
		name string
		neg  bool
	}{
		{"HandshakeBudget", t.HandshakeBudget < 0},
		{"HandshakeRTO", t.HandshakeRTO < 0},
		{"AcceptBacklog", t.AcceptBacklog < 0},
		{"MaxMessageSize", t.MaxMessageSize < 0},
		{"MaxDatagramSize", t.MaxDatagramSize < 0},
		{"InitialWindowPackets", t.InitialWindowPackets < 0},
		{"ReceiveWindow", t.ReceiveWindow < 0},
		{"ConnectionWindow", t.ConnectionWindow < 0},
		{"MaxReceiveWindow", t.MaxReceiveWindow < 0},
		{"MaxConnectionWindow", t.MaxConnectionWindow < 0},
		{"MaxIncomingStreams", t.MaxIncomingStreams < 0},
		{"StreamSendBuffer", t.StreamSendBuffer < 0},
	} {
		if f.neg {
			return c, fmt.Errorf("core: Transport.%s is negative", f.name)
		}
	}
	if t.Driver != DriverGnet && t.Driver != DriverPoller {
		return c, fmt.Errorf("core: Transport.Driver %d is neither DriverGnet nor DriverPoller", t.Driver)
	}
	if t.Congestion == session.FixedRate && t.FixedRate == 0 {
		return c, fmt.Errorf("core: Transport.Congestion is FixedRate but Transport.FixedRate is 0")
	}
	if t.HandshakeRTO > MaxHandshakeRTO {
		return c, fmt.Errorf("core: Transport.HandshakeRTO %v above MaxHandshakeRTO (%v)", t.HandshakeRTO, MaxHandshakeRTO)
	}
	if t.HandshakeRTO == 0 {
		t.HandshakeRTO = DefaultHandshakeRTO
	}
	if t.AcceptBacklog == 0 {
		t.AcceptBacklog = DefaultAcceptBacklog
	}
	if t.HandshakeBudget == 0 {
		t.HandshakeBudget = secure.DefaultHandshakeBudget
	}
	if t.MaxDatagramSize == 0 {
		t.MaxDatagramSize = DefaultMaxDatagramSize
	}
	if t.InitialWindowPackets > 1000 {
		return c, fmt.Errorf("core: Transport.InitialWindowPackets %d above 1000", t.InitialWindowPackets)
	}
	if t.MaxDatagramSize < wire.DefaultMaxDatagramSize || t.MaxDatagramSize > wire.MaxPacketSize {
		return c, fmt.Errorf("core: Transport.MaxDatagramSize %d outside [%d, %d]", t.MaxDatagramSize, wire.DefaultMaxDatagramSize, wire.MaxPacketSize)
	}
	if t.MaxMessageSize == 0 {
		t.MaxMessageSize = session.DefaultMaxMessageSize
	}
	if t.ReceiveWindow == 0 {
		t.ReceiveWindow = max(session.DefaultWindow, 2*t.MaxMessageSize)
	}
	if t.ReceiveWindow < t.MaxMessageSize+8 {
		return c, fmt.Errorf("core: Transport.ReceiveWindow %d cannot hold a %d-byte message", t.ReceiveWindow, t.MaxMessageSize)
	}
	if t.ConnectionWindow == 0 {
		t.ConnectionWindow = 4 * t.ReceiveWindow
	}
	if t.ConnectionWindow < t.ReceiveWindow {
		return c, fmt.Errorf("core: Transport.ConnectionWindow %d below ReceiveWindow %d", t.ConnectionWindow, t.ReceiveWindow)
	}
	if t.MaxReceiveWindow == 0 {
		t.MaxReceiveWindow = max(session.DefaultMaxStreamWindow, t.ReceiveWindow)
	}
	if t.MaxConnectionWindow == 0 {
		t.MaxConnectionWindow = max(session.DefaultMaxConnWindow, t.ConnectionWindow)
	}
	if t.MaxReceiveWindow < t.ReceiveWindow || t.MaxConnectionWindow < t.ConnectionWindow {
		return c, fmt.Errorf("core: Transport.MaxReceiveWindow/MaxConnectionWindow below the initial windows")
	}
	if t.MaxIncomingStreams == 0 {
		t.MaxIncomingStreams = session.DefaultMaxStreams
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = DefaultTransportKeepalive
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultTransportIdleTimeout
	}
	return c, nil
}
