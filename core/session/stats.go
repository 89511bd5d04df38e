package session

import (
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/tracker"
)

// counters are the session's atomic counters.
type counters struct {
	packetsSent, bytesSent, ackOnlySent     atomic.Uint64
	packetsRecv, bytesRecv                  atomic.Uint64
	retransmits, lostPackets, ptos          atomic.Uint64
	msgsSent, msgsRecv                      atomic.Uint64
	dropHeader, dropAEAD, dropReplay        atomic.Uint64
	dropFrame, sendErrors, retxSkippedAcked atomic.Uint64
	protocol                                atomic.Uint64
	streamsOpened, streamsAborted           atomic.Uint64
	abortReleased                           atomic.Uint64
}

// Stats is a snapshot of one session.
type Stats struct {
	PacketsSent, BytesSent uint64 // datagrams handed to the Sender, and their bytes
	AckOnlySent            uint64 // of which ACK-only (not tracked, not in flight)
	PacketsRecv, BytesRecv uint64 // authenticated packets, and their bytes
	Retransmits            uint64 // stream ranges sent again under a new packet number
	Lost                   uint64 // packets declared lost (thresholds and probe timeouts)
	PTOs                   uint64 // probe timeouts
	MessagesSent           uint64 // messages SendMessage sent whole, or queued whole for the sender goroutine
	MessagesRecv           uint64 // messages handed to ReceiveMessage
	DropsBadHeader         uint64 // malformed headers and truncated packets
	DropsAEAD              uint64 // packets that failed authentication
	DropsReplay            uint64 // packet numbers seen before or below the replay window
	DropsBadFrame          uint64 // authenticated packets with a malformed frame
	// DropsProtocol counts authenticated packets whose frames broke the
	// protocol (a stream beyond the advertised limit, data beyond a flow
	// control window, a final size changed, an ACK of a packet never
	// sent): the packet that ended the session (0 or 1).
	DropsProtocol       uint64
	SendErrors          uint64 // Sender.Send failures (their packets are recovered as lost)
	StreamsOpened       uint64 // byte streams opened, by either side
	StreamsAborted      uint64 // byte streams that ended early (every cause)
	AbortReleasedBytes  uint64 // flight bytes the aborts released at once (tracker.DropStream)
	RTT, MinRTT, RTTVar time.Duration
	Cwnd, InFlight      uint64
	PacingRate          uint64 // bytes per second
	KeyUpdates          uint64
	// Path MTU discovery (pmtud.go): the datagram size in use, probes
	// sent and lost, black holes (fallbacks to the base size).
	DatagramSize                             int
	MTUProbesSent, MTUProbesLost, BlackHoles uint64
	Tracker                                  tracker.Stats
}

// Stats returns a snapshot of the session's counters and estimates.
func (s *Session) Stats() Stats {
	c := &s.stats
	st := Stats{
		PacketsSent: c.packetsSent.Load(), BytesSent: c.bytesSent.Load(), AckOnlySent: c.ackOnlySent.Load(),
		PacketsRecv: c.packetsRecv.Load(), BytesRecv: c.bytesRecv.Load(),
		Retransmits: c.retransmits.Load(), Lost: c.lostPackets.Load(), PTOs: c.ptos.Load(),
		MessagesSent: c.msgsSent.Load(), MessagesRecv: c.msgsRecv.Load(),
		DropsBadHeader: c.dropHeader.Load(), DropsAEAD: c.dropAEAD.Load(), DropsReplay: c.dropReplay.Load(),
		DropsBadFrame: c.dropFrame.Load(), DropsProtocol: c.protocol.Load(), SendErrors: c.sendErrors.Load(),
		StreamsOpened: c.streamsOpened.Load(), StreamsAborted: c.streamsAborted.Load(), AbortReleasedBytes: c.abortReleased.Load(),
		Cwnd: s.cc.Window(), InFlight: s.flight.Load(), PacingRate: s.cc.PacingRate(),
		KeyUpdates: s.prot.KeyUpdates(),
		Tracker:    s.tr.Stats(),
	}
	s.mu.Lock()
	st.RTT, st.MinRTT, st.RTTVar = s.rtt.SmoothedRTT(), s.rtt.MinRTT(), s.rtt.RTTVar()
	st.DatagramSize = s.maxDgram
	st.MTUProbesSent, st.MTUProbesLost, st.BlackHoles = s.pm.probesSent, s.pm.probesLost, s.pm.blackHoles
	s.mu.Unlock()
	return st
}
