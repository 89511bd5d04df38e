package tracker

// Stats is a snapshot of a Tracker's books. Counters are read one by one,
// so a snapshot taken while operations run may be off by those in progress;
// at quiescence SentBytes == InFlightBytes + ReleasedBytes.
type Stats struct {
	InFlightPackets int64  // packets InFlight
	InFlightBytes   uint64 // their bytes (what the FlightSize holds for them)
	LostPending     int64  // packets Lost whose data awaits Retransmit or Abandon

	// Bytes released to the FlightSize, by what took the packet out of flight.
	Acked, AckedBytes         uint64 // by OnAck
	Lost, LostBytes           uint64 // by a loss declaration (DueForResend)
	Probed, ProbedBytes       uint64 // by a probe timeout (DueForResend)
	Dropped, DroppedBytes     uint64 // by DropStream
	Abandoned, AbandonedBytes uint64 // by DueForResend after MaxRetransmits, or Abandon

	PTOs        uint64 // probe timeouts seen by DueForResend
	Retransmits uint64 // successful Retransmit calls
	Spurious    uint64 // packets lost by a threshold and acknowledged later
	LateProbes  uint64 // probed packets acknowledged later

	Chunks  int64 // packet-number chunks allocated (32 KiB each)
	Streams int   // streams with a packet list
}

// ReleasedBytes is the total the tracker released to the FlightSize.
func (s Stats) ReleasedBytes() uint64 {
	return s.AckedBytes + s.LostBytes + s.ProbedBytes + s.DroppedBytes + s.AbandonedBytes
}

// SentBytes is the total bytes registered with OnSent and Retransmit
// (exact at quiescence).
func (s Stats) SentBytes() uint64 { return s.InFlightBytes + s.ReleasedBytes() }

// Stats returns a snapshot. It takes each stream shard's lock briefly (to
// count streams) and allocates nothing.
func (t *Tracker) Stats() Stats {
	return Stats{
		InFlightPackets: t.inflightPkts.Load(),
		InFlightBytes:   t.inflightBytes.Load(),
		LostPending:     t.lostPending.Load(),
		Acked:           t.ctr[phaseAcked].pkts.Load(),
		AckedBytes:      t.ctr[phaseAcked].bytes.Load(),
		Lost:            t.ctr[phaseLost].pkts.Load(),
		LostBytes:       t.ctr[phaseLost].bytes.Load(),
		Probed:          t.probed.pkts.Load(),
		ProbedBytes:     t.probed.bytes.Load(),
		Dropped:         t.ctr[phaseDropped].pkts.Load(),
		DroppedBytes:    t.ctr[phaseDropped].bytes.Load(),
		Abandoned:       t.ctr[phaseAbandoned].pkts.Load(),
		AbandonedBytes:  t.ctr[phaseAbandoned].bytes.Load(),
		PTOs:            t.ptos.Load(),
		Retransmits:     t.retransmits.pkts.Load(),
		Spurious:        t.spurious.pkts.Load(),
		LateProbes:      t.lateProbes.pkts.Load(),
		Chunks:          t.pns.live.Load(),
		Streams:         t.streams.streams(),
	}
}
