package tracker

// Stats is a snapshot of a Tracker's books. Counters are read one by one,
// so a snapshot taken while operations run may be off by those in progress;
// at quiescence SentBytes == InFlightBytes + AckedBytes + DroppedBytes +
// AbandonedBytes.
type Stats struct {
	InFlightPackets int64  // packets InFlight
	InFlightBytes   uint64 // their bytes (what the Flight holds for them)

	Acked, AckedBytes         uint64 // released by OnAck
	Dropped, DroppedBytes     uint64 // released by DropStream
	Abandoned, AbandonedBytes uint64 // released by DueForResend after MaxRetransmits, or Abandon

	Lost, LostBytes uint64 // handed out as lost by DueForResend (may repeat per packet)
	Probes          uint64 // handed out as PTO probes
	PTOs            uint64 // probe timeouts seen by DueForResend
	Retransmits     uint64 // successful Refresh calls

	Chunks  int64 // packet-number chunks allocated (32 KiB each)
	Streams int   // streams with a packet list
}

// ReleasedBytes is the total the tracker released to the Flight.
func (s Stats) ReleasedBytes() uint64 { return s.AckedBytes + s.DroppedBytes + s.AbandonedBytes }

// SentBytes is the total bytes registered with OnSent (exact at quiescence).
func (s Stats) SentBytes() uint64 { return s.InFlightBytes + s.ReleasedBytes() }

// Stats returns a snapshot. It takes each stream shard's lock briefly (to
// count streams) and allocates nothing.
func (t *Tracker) Stats() Stats {
	return Stats{
		InFlightPackets: t.inflightPkts.Load(),
		InFlightBytes:   t.inflightBytes.Load(),
		Acked:           t.ctr[phaseAcked].pkts.Load(),
		AckedBytes:      t.ctr[phaseAcked].bytes.Load(),
		Dropped:         t.ctr[phaseDropped].pkts.Load(),
		DroppedBytes:    t.ctr[phaseDropped].bytes.Load(),
		Abandoned:       t.ctr[phaseAbandoned].pkts.Load(),
		AbandonedBytes:  t.ctr[phaseAbandoned].bytes.Load(),
		Lost:            t.lost.pkts.Load(),
		LostBytes:       t.lost.bytes.Load(),
		Probes:          t.probes.pkts.Load(),
		PTOs:            t.ptos.Load(),
		Retransmits:     t.retransmits.pkts.Load(),
		Chunks:          t.pns.live.Load(),
		Streams:         t.streams.streams(),
	}
}
