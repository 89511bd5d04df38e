package core

import (
	"sync"

	"github.com/petrel-transport/petrel/core/loop"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
)

// TransportStats counts a Node's traffic over every connection it has had
// (live ones and ended ones), and the datagrams it dropped, by reason. The
// counters only grow: a connection's counts pass from the live sum to the
// ended sum atomically with respect to Stats.
type TransportStats struct {
	Conns                  int    // live connections (handshaking ones included)
	PacketsSent, BytesSent uint64 // datagrams handed to the driver by sessions, and their bytes
	PacketsRecv, BytesRecv uint64 // authenticated packets, and their bytes
	Retransmits            uint64 // stream ranges sent again under a new packet number
	Lost                   uint64 // packets declared lost
	PTOs                   uint64 // probe timeouts
	MessagesSent           uint64 // messages SendMessage accepted (sent whole, or queued whole)
	MessagesRecv           uint64 // messages handed to ReceiveMessage
	StreamsOpened          uint64 // byte streams opened, by either side
	StreamsAborted         uint64 // byte streams that ended early (Abort, the peer's abort, a timeout, an upstream error, the connection's end)
	AbortReleasedBytes     uint64 // flight bytes those aborts released at once
	// PendingHandshakes is the handshakes answered and not yet confirmed
	// by their initiator: the state a flood of initiations can pin, bounded
	// by TransportConfig.HandshakeBudget.
	PendingHandshakes int
	Drops             DropCounts
}

// DropCounts are datagrams and packets dropped, by reason.
type DropCounts struct {
	BadHeader      uint64 // malformed or truncated packet headers, at the node or in a session
	UnknownConnID  uint64 // no connection has the destination connection id
	AEAD           uint64 // packets that failed authentication
	Replay         uint64 // packet numbers seen before, or below the replay window
	BadFrame       uint64 // authenticated packets with a malformed frame (they end the connection)
	Protocol       uint64 // authenticated packets that broke the protocol: a stream over MaxIncomingStreams, data beyond a window (they end the connection)
	Handshake      uint64 // initiations refused: MAC, decryption, replayed timestamp, malformed
	OverBudget     uint64 // initiations refused for the handshake budget or the accept backlog
	CookieRequired uint64 // initiations answered with a retry cookie instead of a session
	StrayReply     uint64 // handshake responses and cookie replies that match no dial
	Unconfirmed    uint64 // answered initiations whose initiator never proved its keys (timed out, or refused later)
	// Truncated and KernelQueue are counted by the driver, before the node
	// sees a datagram (zero under a driver that does not report them, such
	// as core/simnet's): datagrams larger than a receive slot (MSG_TRUNC),
	// and datagrams the kernel dropped for a full socket receive queue
	// (sk_drops).
	Truncated   uint64
	KernelQueue uint64
}

// driverStats is what a driver of core/loop reports; core reads its drops.
type driverStats interface{ Stats() loop.Stats }

// retired sums the counters of ended connections. mu orders a connection's
// move from the live map to the sum against Stats, so no count is seen
// twice or missed.
type retired struct {
	mu sync.Mutex
	st TransportStats
}

// add folds one session's counters into st.
func (st *TransportStats) add(s session.Stats) {
	st.PacketsSent += s.PacketsSent
	st.BytesSent += s.BytesSent
	st.PacketsRecv += s.PacketsRecv
	st.BytesRecv += s.BytesRecv
	st.Retransmits += s.Retransmits
	st.Lost += s.Lost
	st.PTOs += s.PTOs
	st.MessagesSent += s.MessagesSent
	st.MessagesRecv += s.MessagesRecv
	st.StreamsOpened += s.StreamsOpened
	st.StreamsAborted += s.StreamsAborted
	st.AbortReleasedBytes += s.AbortReleasedBytes
	st.Drops.BadHeader += s.DropsBadHeader
	st.Drops.AEAD += s.DropsAEAD
	st.Drops.Replay += s.DropsReplay
	st.Drops.BadFrame += s.DropsBadFrame
	st.Drops.Protocol += s.DropsProtocol
}

// retire moves c's counts from the live map to the ended sum.
func (e *engine) retire(c *Conn) {
	st := c.s.Stats()
	e.retired.mu.Lock()
	e.retired.st.add(st)
	e.conns.Delete(c.cid)
	e.retired.mu.Unlock()
}

// stats sums the live connections, the ended ones and the node's drops.
func (e *engine) stats() TransportStats {
	e.retired.mu.Lock()
	st := e.retired.st
	e.conns.Range(func(_ wire.ConnID, c *Conn) bool {
		st.Conns++
		st.add(c.s.Stats())
		return true
	})
	e.retired.mu.Unlock()
	d := &st.Drops
	d.BadHeader += e.drops.BadHeader.Load()
	d.UnknownConnID += e.drops.UnknownConnID.Load()
	d.Handshake += e.drops.Handshake.Load()
	d.OverBudget += e.drops.OverBudget.Load()
	d.CookieRequired += e.drops.CookieRequired.Load()
	d.StrayReply += e.drops.StrayReply.Load()
	d.Unconfirmed += e.drops.Unconfirmed.Load()
	if ds, ok := e.drv.(driverStats); ok {
		io := ds.Stats().IO
		d.Truncated += io.Truncated
		d.KernelQueue += io.KernelDrops
	}
	st.PendingHandshakes = e.resp.Pending()
	return st
}
