package session

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// Defaults for the zero fields of Config.
const (
	// DefaultMaxMessageSize bounds one message: 1 MiB, large enough for a
	// block of a peer-to-peer store, small enough that the receiver can
	// hold a whole message in its window.
	DefaultMaxMessageSize = 1 << 20
	// DefaultIdleTimeout closes a session that heard nothing for 30 s
	// (RFC 9000 section 10.1 leaves the value to the endpoints; 30 s is
	// quic-go's default).
	DefaultIdleTimeout = 30 * time.Second
	// DefaultKeepaliveInterval sends a PING after 10 s without sending
	// anything ack-eliciting: a third of the idle timeout, so two lost
	// keepalives in a row do not end a healthy session.
	DefaultKeepaliveInterval = 10 * time.Second
	// DefaultMaxRetransmits: data lost this many times again is not sent
	// again and the session fails (tracker.DefaultMaxRetransmits).
	DefaultMaxRetransmits = 10
)

// Controller names a congestion controller.
type Controller uint8

// Congestion controllers.
const (
	// CUBIC (RFC 9438) with HyStart++ (RFC 9406): the default.
	CUBIC Controller = iota
	// LEDBAT (RFC 6817), a scavenger that yields to other traffic.
	LEDBAT
	// FixedRate sends at Config.FixedRate bytes per second.
	FixedRate
)

// Sender emits datagrams. Core adapts a driver (core/loop, core/simnet) to
// it.
type Sender interface {
	// Send transmits pkts, in order, to to. It reads each buffer during the
	// call only. It may block while the socket's send buffer is full. A
	// packet it fails to send is lost to the network, which loss recovery
	// handles.
	Send(to netip.AddrPort, pkts [][]byte) error
}

// Config configures a Session. Fields marked required have no default; every
// other zero value is the documented default.
type Config struct {
	// Protector seals and opens the session's packets (from the handshake's
	// keys). Required; the Session owns it from New on and closes it.
	Protector *secure.Protector
	// LocalCID is the connection id the peer puts in the packets it sends
	// here; RemoteCID the one this side puts in packets to the peer.
	LocalCID, RemoteCID wire.ConnID
	// Remote is the peer's address. Required. It follows the peer when an
	// authenticated packet arrives from a new address (OnRemoteChange).
	Remote netip.AddrPort
	// Out emits the session's datagrams. Required.
	Out Sender
	// Wheel holds the session's timers (loss and probe timeout, delayed
	// ACK, pacing, idle and keepalive). Required; someone must Advance it.
	Wheel *wheel.Wheel
	// Clock is the session's time source. Nil: monotime.Now.
	Clock func() monotime.Time

	// Local is what this side announced in the handshake, Peer what the
	// peer announced. Zero values: wire.DefaultTransportParams with this
	// package's windows (see withDefaults).
	Local, Peer wire.TransportParams

	// Congestion selects the controller. Zero: CUBIC.
	Congestion Controller
	// FixedRate is the rate in bytes per second for the FixedRate
	// controller (required with it, ignored otherwise).
	FixedRate uint64

	// DisablePathMTUDiscovery keeps every datagram at the base size, 1200
	// bytes. Zero (false): the session starts at 1200 and searches up to
	// the smaller of Local.MaxDatagramSize and Peer.MaxDatagramSize
	// (DPLPMTUD, RFC 8899; pmtud.go); with both at 1200 there is nothing
	// to search.
	DisablePathMTUDiscovery bool
	// InitialWindowPackets is CUBIC's initial window in datagrams (it
	// follows the datagram size). Zero: RFC 9002 section 7.2's
	// min(10*size, max(14720, 2*size)) bytes.
	InitialWindowPackets int

	// MaxMessageSize bounds one message. Zero: DefaultMaxMessageSize. The
	// receive window (Local.InitialMaxData) must hold one whole message.
	MaxMessageSize int
	// IdleTimeout closes the session after this long without an
	// authenticated packet. Zero: the smaller of DefaultIdleTimeout and
	// the peer's announced idle timeout (RFC 9000 section 10.1).
	IdleTimeout time.Duration
	// KeepaliveInterval sends a PING after this long without an
	// ack-eliciting packet sent. Zero: DefaultKeepaliveInterval, capped
	// at a third of the idle timeout. Negative: no keepalives.
	KeepaliveInterval time.Duration
	// MaxRetransmits is how often one range of data may be retransmitted;
	// one more loss fails the session. Zero: DefaultMaxRetransmits.
	MaxRetransmits int
	// SendBacklog is how many bytes written and never sent SendMessage may
	// leave to the session's sender goroutine and return at once (see
	// SendMessage): consecutive messages then share packets and system
	// calls. Zero: none; every SendMessage sends on its caller's goroutine
	// and the session starts no goroutine (what tests that drive a session
	// by hand need). Negative is invalid.
	SendBacklog int

	// StreamSendBuffer bounds the bytes a stream holds written and never
	// sent: Write parks above it. Zero: DefaultStreamSendBuffer.
	StreamSendBuffer int
	// MaxStreamWindow is the largest a stream's receive window grows to
	// by auto-tuning (it starts at Local.InitialMaxStreamData). Zero:
	// DefaultMaxStreamWindow.
	MaxStreamWindow uint64
	// MaxConnWindow is the largest the connection's receive window grows
	// to (it starts at Local.InitialMaxData). Zero: DefaultMaxConnWindow.
	MaxConnWindow uint64
	// WindowWaitTimeout aborts a stream (ErrWindowWait) whose written
	// bytes could not leave for this long, for want of congestion window
	// or flow-control credit. Zero: DefaultWindowWaitTimeout; negative:
	// never.
	WindowWaitTimeout time.Duration
	// StreamInactivityTimeout aborts a stream the peer opened
	// (ErrStreamInactive) that brought no new data for this long while it
	// had credit to send. Zero: DefaultStreamInactivityTimeout; negative:
	// never.
	StreamInactivityTimeout time.Duration

	// Responder marks the side that answered the handshake: it sends
	// nothing until it has opened a packet of the peer, which proves the
	// peer holds the keys and owns its address (RFC 9000 section 8.1:
	// nothing beyond three times what the address sent before it is
	// validated; here nothing at all beyond the handshake response), and
	// then calls OnConfirmed. The initiator (Responder false) sends a PING
	// as soon as it is driven (Flush), so the responder is confirmed even
	// if the initiator's application stays silent.
	Responder bool
	// OnConfirmed runs once, on the receive path outside the session's
	// locks, when a Responder session opens its first packet.
	OnConfirmed func()

	// OnClose runs once when the session ends, with the reason (nil for a
	// local Close), on the goroutine that ended it and outside every lock
	// of the session.
	OnClose func(reason error)
	// OnRemoteChange runs when an authenticated packet arrives from a new
	// address (a NAT rebinding): the session now sends there.
	OnRemoteChange func(addr netip.AddrPort)
}

// Flow-control and stream defaults.
const (
	// DefaultWindow is each stream's initial receive window (and the
	// message stream's, which does not grow) when Local.InitialMaxStreamData
	// is zero: four maximum messages, so a sender keeps several in flight
	// while the receiver reads.
	DefaultWindow = 4 * DefaultMaxMessageSize
	// DefaultConnWindow is the connection's initial receive window when
	// Local.InitialMaxData is zero: four streams' windows.
	DefaultConnWindow = 4 * DefaultWindow
	// DefaultMaxStreamWindow caps a stream's auto-tuned window: 16 MiB,
	// the bandwidth-delay product of 1.3 Gbit/s at 100 ms.
	DefaultMaxStreamWindow = 16 << 20
	// DefaultMaxConnWindow caps the connection's window: 1.5 times the
	// largest stream window (quic-go's ratio), so one stream at full
	// window leaves room for others.
	DefaultMaxConnWindow = DefaultMaxStreamWindow + DefaultMaxStreamWindow/2
	// DefaultMaxStreams is how many streams the peer may have open at
	// once (RFC 9000 leaves it to the endpoint; 100 is quic-go's default).
	DefaultMaxStreams = 100
	// DefaultStreamSendBuffer is a stream's bound on bytes written and not
	// yet sent: 1 MiB, enough to keep a 1 GB/s path busy for a millisecond
	// while the writer is descheduled.
	DefaultStreamSendBuffer = 1 << 20
	// DefaultWindowWaitTimeout aborts a stream whose data waited 3 s for
	// window or credit.
	DefaultWindowWaitTimeout = 3 * time.Second
	// DefaultStreamInactivityTimeout aborts a peer's stream silent for 5 s.
	DefaultStreamInactivityTimeout = 5 * time.Second
)

// ErrConfig is wrapped by every Config validation error.
var ErrConfig = errors.New("session: invalid config")

func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if c.Protector == nil {
		return bad("Protector is nil")
	}
	if c.Out == nil {
		return bad("Out is nil")
	}
	if c.Wheel == nil {
		return bad("Wheel is nil")
	}
	if !c.Remote.IsValid() {
		return bad("Remote is not a valid address")
	}
	if c.Clock == nil {
		c.Clock = monotime.Now
	}
	def := wire.DefaultTransportParams()
	if c.Local.MaxDatagramSize == 0 {
		c.Local.MaxDatagramSize = def.MaxDatagramSize
	}
	if c.Peer.MaxDatagramSize == 0 {
		c.Peer.MaxDatagramSize = def.MaxDatagramSize
	}
	if c.Local.MaxAckDelay == 0 {
		c.Local.MaxAckDelay = def.MaxAckDelay
	}
	if c.Peer.MaxAckDelay == 0 {
		c.Peer.MaxAckDelay = def.MaxAckDelay
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxMessageSize < 0 {
		return bad("MaxMessageSize %d is negative", c.MaxMessageSize)
	}
	for _, p := range []*wire.TransportParams{&c.Local, &c.Peer} {
		if p.InitialMaxStreamData == 0 {
			p.InitialMaxStreamData = DefaultWindow
		}
		if p.InitialMaxData == 0 {
			p.InitialMaxData = max(DefaultConnWindow, p.InitialMaxStreamData)
		}
		if p.MaxStreams == 0 {
			p.MaxStreams = DefaultMaxStreams
		}
	}
	need := uint64(c.MaxMessageSize) + 8 // the message and its varint length
	if c.Local.InitialMaxStreamData < need || c.Local.InitialMaxData < need {
		return bad("receive window %d (connection %d) cannot hold a %d-byte message", c.Local.InitialMaxStreamData, c.Local.InitialMaxData, c.MaxMessageSize)
	}
	if c.StreamSendBuffer == 0 {
		c.StreamSendBuffer = DefaultStreamSendBuffer
	}
	if c.MaxStreamWindow == 0 {
		c.MaxStreamWindow = max(DefaultMaxStreamWindow, c.Local.InitialMaxStreamData)
	}
	if c.MaxConnWindow == 0 {
		c.MaxConnWindow = max(DefaultMaxConnWindow, c.Local.InitialMaxData)
	}
	if c.WindowWaitTimeout == 0 {
		c.WindowWaitTimeout = DefaultWindowWaitTimeout
	}
	if c.StreamInactivityTimeout == 0 {
		c.StreamInactivityTimeout = DefaultStreamInactivityTimeout
	}
	switch {
	case c.StreamSendBuffer < 0:
		return bad("StreamSendBuffer %d is negative", c.StreamSendBuffer)
	case c.MaxStreamWindow < c.Local.InitialMaxStreamData:
		return bad("MaxStreamWindow %d below the initial stream window %d", c.MaxStreamWindow, c.Local.InitialMaxStreamData)
	case c.MaxConnWindow < c.Local.InitialMaxData:
		return bad("MaxConnWindow %d below the initial connection window %d", c.MaxConnWindow, c.Local.InitialMaxData)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
		if p := c.Peer.IdleTimeout; p > 0 && p < c.IdleTimeout {
			c.IdleTimeout = p
		}
	}
	if c.IdleTimeout < 0 {
		return bad("IdleTimeout %v is negative", c.IdleTimeout)
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = min(DefaultKeepaliveInterval, c.IdleTimeout/3)
	}
	if c.MaxRetransmits == 0 {
		c.MaxRetransmits = DefaultMaxRetransmits
	}
	if c.InitialWindowPackets < 0 || c.InitialWindowPackets > 1000 {
		return bad("InitialWindowPackets %d outside [0, 1000]", c.InitialWindowPackets)
	}
	if c.SendBacklog < 0 {
		return bad("SendBacklog %d is negative", c.SendBacklog)
	}
	if c.MaxRetransmits < 0 || c.MaxRetransmits > 127 {
		return bad("MaxRetransmits %d outside [1, 127]", c.MaxRetransmits)
	}
	switch c.Congestion {
	case CUBIC, LEDBAT:
	case FixedRate:
		if c.FixedRate == 0 {
			return bad("FixedRate controller without a rate")
		}
	default:
		return bad("unknown controller %d", c.Congestion)
	}
	return c, nil
}

// maxDatagram is the largest datagram path MTU discovery may settle on:
// what the peer receives (its max_udp_payload_size, RFC 9000 section
// 18.2), what this side announced it receives (one knob bounds both
// directions), within what the codec can express.
func (c *Config) maxDatagram() int {
	return int(min(c.Peer.MaxDatagramSize, c.Local.MaxDatagramSize, uint64(wire.MaxPacketSize)))
}
