package core

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/ring"
)

// link is the part of a Peer that only a peer that has connected (or is
// supervised) needs: registry serialisation, counters, the estimates retained
// across sessions and the supervision state. Allocated once per Peer by
// Table.linkOf and never replaced.
//
// Guard map: mu serialises Table.Swap for this peer (it is held across the
// rule decision, build and the install CAS, and across nothing else) and
// guards nothing else. timers are bound to the Node's wheel before the link
// is published and are safe for concurrent use. Everything else is atomic.
type link struct {
	mu sync.Mutex

	// attempt is the number of consecutive failed dials since the last
	// installed session (the backoff exponent); retryAt is when the next
	// supervised redial is due.
	attempt atomic.Uint32
	retryAt atomic.Int64 // monotime.Time

	counters peerCounters

	// Retained across sessions (written at disconnect, cleared at a connect
	// outside the retention window).
	rtt           atomic.Int64  // time.Duration
	cwnd          atomic.Uint64 // bytes
	lastConnected atomic.Int64  // monotime.Time the last session ended (or the record was added)
	// stamp is the newest handshake initiation timestamp accepted from the
	// peer (replay.go), kept for as long as the record.
	stamp atomic.Pointer[secure.Timestamp]

	timers peerTimers
	// forgetting says what the liveness timer is armed for: true for the
	// forget-after-retention check (armForget), false for the keepalive and
	// idle check of an installed session (armTimers). Written just before
	// each arming, so a firing that finds the slot empty can tell a forget
	// check from a keepalive arming that outlived its session.
	forgetting atomic.Bool

	// slot is the peer's transient state (ringlink.go), bound to the Node's
	// TransientManager with the timers.
	slot ring.Slot[PeerKey]
}

func (l *link) estimates() Estimates {
	return Estimates{RTT: time.Duration(l.rtt.Load()), Cwnd: l.cwnd.Load()}
}

func (l *link) keep(e Estimates) {
	l.rtt.Store(int64(e.RTT))
	l.cwnd.Store(e.Cwnd)
}

// PeerCounters is a snapshot of one peer's counters.
type PeerCounters struct {
	Connects     uint64 // sessions installed
	Disconnects  uint64 // sessions removed or replaced
	Dials        uint64 // outgoing dials started
	DialFailures uint64 // dials that returned an error or lost to Close
	PacketsIn    uint64
	BytesIn      uint64
	PacketsOut   uint64
	BytesOut     uint64
}

// add accumulates o into c (for node-wide totals).
func (c *PeerCounters) add(o PeerCounters) {
	c.Connects += o.Connects
	c.Disconnects += o.Disconnects
	c.Dials += o.Dials
	c.DialFailures += o.DialFailures
	c.PacketsIn += o.PacketsIn
	c.BytesIn += o.BytesIn
	c.PacketsOut += o.PacketsOut
	c.BytesOut += o.BytesOut
}

// peerCounters are the live atomic counters behind PeerCounters. They are
// per peer, so contention is limited to the loops serving that peer; they
// are not padded (a million peers).
type peerCounters struct {
	connects, disconnects, dials, dialFailures atomic.Uint64
	packetsIn, bytesIn, packetsOut, bytesOut   atomic.Uint64
}

func (c *peerCounters) snapshot() PeerCounters {
	return PeerCounters{
		Connects:     c.connects.Load(),
		Disconnects:  c.disconnects.Load(),
		Dials:        c.dials.Load(),
		DialFailures: c.dialFailures.Load(),
		PacketsIn:    c.packetsIn.Load(),
		BytesIn:      c.bytesIn.Load(),
		PacketsOut:   c.packetsOut.Load(),
		BytesOut:     c.bytesOut.Load(),
	}
}
