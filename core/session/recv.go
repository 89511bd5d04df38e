package session

// The receive path: HandlePacket runs on the driver's goroutine for each
// packet whose connection id names this session (core splits coalesced
// datagrams and routes them). It parses the header, reconstructs the packet
// number against the largest received (RFC 9000 Appendix A.3), rejects a
// replay before spending an AEAD open on it, opens the packet in place,
// checks every frame before acting on any (RFC 9000 section 12.4: a
// malformed frame discards the packet), then applies them under mu. Flush,
// called once the driver's batch is done, sends the ACK that came due and
// whatever the ACKs let leave.

import (
	"errors"
	"io"
	"net/netip"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/tracker"
)

// HandlePacket processes one packet of this session received from from at
// now. It opens pkt in place; pkt must not be used by the caller afterwards
// except to return its buffer. Calls for one session must not overlap.
// Malformed, unauthenticated and replayed packets are counted and dropped.
func (s *Session) HandlePacket(pkt []byte, from netip.AddrPort, now monotime.Time) {
	s.rxMu.Lock()
	code, err := s.handleLocked(pkt, from, now)
	confirmed, moved := s.rxConfirmed, s.rxMoved
	s.rxConfirmed, s.rxMoved = false, netip.AddrPort{}
	s.rxMu.Unlock()
	// The callbacks run with no lock of the session held (Config's
	// contract): they may call the session's methods.
	if confirmed {
		s.cfg.OnConfirmed()
	}
	if moved.IsValid() {
		s.cfg.OnRemoteChange(moved)
	}
	if err != nil {
		if code == CodeProtocol {
			s.stats.protocol.Add(1)
		}
		s.fail(err, code)
	}
}

// handleLocked is HandlePacket under rxMu. A non-nil error ends the session
// (after rxMu is released: ending it closes the Protector under rxMu).
func (s *Session) handleLocked(pkt []byte, from netip.AddrPort, now monotime.Time) (uint64, error) {
	if !s.alive.Load() {
		return 0, nil
	}
	h, hdrLen, err := wire.ParseShortHeader(pkt)
	if err != nil {
		s.stats.dropHeader.Add(1)
		return 0, nil
	}
	pn := wire.DecodePacketNumber(s.rxLargest, h.PN, h.PNLen)
	if v := s.replay.Check(pn); v != secure.Fresh {
		s.onReplay(v)
		return 0, nil
	}
	end := hdrLen - h.PNLen + h.Length
	payload, err := s.prot.Open(pkt[:end], hdrLen, pn, h.KeyPhase, now)
	if err != nil {
		s.stats.dropAEAD.Add(1)
		if errors.Is(err, secure.ErrIntegrityLimit) || errors.Is(err, secure.ErrProtectorClosed) {
			return CodeInternal, err
		}
		return 0, nil
	}
	if v := s.replay.Accept(pn); v != secure.Fresh {
		s.onReplay(v)
		return 0, nil
	}
	if s.rxLargest == wire.NoPacketReceived || pn > s.rxLargest {
		s.rxLargest = pn
	}
	// Check every frame before acting on any.
	eliciting := false
	s.parser.Reset(payload)
	for {
		f, err := s.parser.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.stats.dropFrame.Add(1)
			return 0, nil
		}
		switch f.Type {
		case wire.FrameAck, wire.FramePadding, wire.FrameClose:
		default:
			eliciting = true
		}
	}
	s.stats.packetsRecv.Add(1)
	s.stats.bytesRecv.Add(uint64(len(pkt)))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, nil
	}
	s.lastRecv = now
	if !s.confirmed {
		s.confirmed = true
		s.signalLocked()
		s.rxConfirmed = s.cfg.OnConfirmed != nil // HandlePacket calls it, unlocked
	}
	if from != s.remote && from.IsValid() {
		// An authenticated packet from a new address: the peer moved
		// (a NAT rebinding); follow it.
		s.remote = from
		if s.cfg.OnRemoteChange != nil {
			s.rxMoved = from // HandlePacket calls it, unlocked
		}
	}
	if s.acks.onPacket(pn, eliciting, now) {
		s.cfg.Wheel.Cancel(&s.ackTimer)
	} else if eliciting {
		s.cfg.Wheel.Add(&s.ackTimer, now.Add(s.acks.maxDelay))
	}
	s.parser.Reset(payload)
	for {
		f, err := s.parser.Next()
		if err != nil {
			break // io.EOF: checked above
		}
		if code, err := s.applyLocked(&f, now); err != nil {
			return code, err
		}
	}
	return 0, nil
}

func (s *Session) onReplay(v secure.Verdict) {
	s.stats.dropReplay.Add(1)
	if v == secure.Duplicate {
		// Its ACK may have been lost: acknowledge again (RFC 9000
		// section 13.2.1), never deliver twice.
		s.mu.Lock()
		s.acks.onDuplicate()
		s.mu.Unlock()
	}
}

// applyLocked applies one checked frame.
func (s *Session) applyLocked(f *wire.Frame, now monotime.Time) (uint64, error) {
	switch f.Type {
	case wire.FrameAck:
		if err := s.onAckLocked(&f.Ack, now); err != nil {
			return CodeProtocol, err
		}
		if s.abandoned {
			return CodeInternal, ErrRetransmitLimit
		}
	case wire.FrameStream:
		if f.Stream.ID != messageStream {
			if err := s.onStreamFrameLocked(&f.Stream, now); err != nil {
				return CodeProtocol, err
			}
			break
		}
		if f.Stream.Fin {
			return CodeProtocol, ErrProtocol // the message stream ends only with the session
		}
		if end := f.Stream.Offset + uint64(len(f.Stream.Data)); end > s.msg.recvHi {
			if end > s.recv.limit {
				return CodeProtocol, ErrProtocol
			}
			if err := s.raiseRecvLocked(s.msg, end); err != nil {
				return CodeProtocol, err
			}
		}
		before := s.recv.pending()
		if err := s.recv.onData(f.Stream.Offset, f.Stream.Data); err != nil {
			return CodeProtocol, err
		}
		if s.recv.pending() > before {
			s.readableLocked()
		}
	case wire.FrameMaxData:
		if f.MaxData > s.connCredit {
			s.connCredit = f.MaxData
			s.signalLocked()
		}
	case wire.FrameMaxStreamData:
		if err := s.onMaxStreamDataLocked(&f.MaxStreamData, now); err != nil {
			return CodeProtocol, err
		}
	case wire.FrameMaxStreams:
		s.onMaxStreamsLocked(f.MaxStreams)
	case wire.FrameStreamAbort:
		if err := s.onStreamAbortLocked(&f.StreamAbort, now); err != nil {
			return CodeProtocol, err
		}
	case wire.FrameClose:
		return 0, &PeerClosedError{Code: f.Close.ErrorCode, Reason: string(f.Close.Reason)}
	}
	// PING and PADDING need nothing beyond the acknowledgement; MESSAGE
	// and HANDSHAKE frames have no meaning after the handshake and are
	// ignored.
	return 0, nil
}

// onAckLocked applies an ACK frame: the tracker releases the acknowledged
// packets' bytes, the RTT estimator and the controller learn from it, the
// acknowledged stream ranges are retired, and loss detection runs (RFC 9002
// section 6: on every ACK).
func (s *Session) onAckLocked(f *wire.AckFrame, now monotime.Time) error {
	if f.Largest >= s.nextPN {
		return ErrProtocol // RFC 9000 section 13.1: an ACK of a packet never sent
	}
	s.rxMuHeldRanges(f)
	if len(s.ackRanges) == 0 {
		return nil // nothing the tracker holds (only ACK-only packets named)
	}
	res, err := s.tr.OnAck(s.ackRanges, ackDelay(f), now)
	if err != nil {
		return ErrProtocol
	}
	first := !s.hasAcked
	if !s.hasAcked || res.LargestAcked > s.largestAcked {
		s.largestAcked, s.hasAcked = res.LargestAcked, true
	}
	if first {
		// The path carries the base size: search above it (pmtud.go).
		s.startPMTUDLocked(s.pm.ceiling+1, now)
	}
	if res.RTTValid {
		s.rtt.Update(res.LatestRTT, res.AckDelay)
	}
	if res.NewlyAcked > 0 {
		s.cc.OnAck(now, res.LargestNewlySent, res.AckedBytes, res.PriorInFlight, &s.rtt)
		s.rtt.ResetBackoff()
		s.pcEpisode = false
		s.flight.Notify()
	}
	if (res.Spurious > 0 || res.LateProbes > 0) && len(s.retx) > 0 {
		s.retireAckedRetxLocked(now)
	}
	// Retire the records of the packets named, within the log's bounds.
	lo, hi := s.log.bounds()
	for _, r := range s.ackRanges {
		a, b := max(r.Smallest, lo), min(r.Largest+1, hi)
		for pn := a; pn < b; pn++ {
			rec, ok := s.log.take(pn)
			switch {
			case !ok:
			case rec.mtuProbe:
				s.onMTUProbeAckedLocked(pn, int(rec.n), now)
			default:
				if int(rec.size) > baseDatagram {
					s.onBigAckedLocked()
				}
				s.ackedRecordLocked(&rec, now)
			}
		}
	}
	s.detectLossLocked(now)
	s.signalLocked()
	return nil
}

// retireAckedRetxLocked removes from the retransmission queue the lost
// packets this ACK named (a late ACK: the loss was spurious, or a probe's
// original arrived after all) and retires their ranges. The tracker has
// already resolved them as acknowledged, and may have recycled their
// entries, so a later Retransmit could not tell an acknowledged packet from
// an unknown one: the session, which still holds the ranges, decides here.
func (s *Session) retireAckedRetxLocked(now monotime.Time) {
	kept := s.retx[:0]
	for _, it := range s.retx {
		if ackNames(s.ackRanges, it.lost) {
			s.ackedRangeLocked(it.st, it.off, it.n, it.fin, now)
			continue
		}
		kept = append(kept, it)
	}
	clear(s.retx[len(kept):])
	s.retx = kept
	if len(s.retx) == 0 {
		s.retx = nil
	}
}

// ackedRecordLocked retires what an acknowledged packet carried.
func (s *Session) ackedRecordLocked(rec *sentRecord, now monotime.Time) {
	if rec.st != nil {
		s.ackedRangeLocked(rec.st, rec.off, rec.n, rec.fin, now)
	}
	if st := rec.ctl; st != nil && rec.ctlAbort && !st.abortAck {
		st.abortAck = true
		s.maybeRemoveLocked(st)
	}
}

// ackedRangeLocked retires an acknowledged range (and FIN) of st: its
// buffer space is given back, and a stream whose every byte and FIN were
// acknowledged has ended sending.
func (s *Session) ackedRangeLocked(st *Stream, off uint64, n uint32, fin bool, now monotime.Time) {
	if st.err != nil || st.removed {
		return
	}
	st.send.onAcked(off, n)
	st.sendProg = now
	if fin {
		st.finAcked = true
	}
	if st.finAcked && !st.sendEnd && st.send.base == st.send.written && st != s.msg {
		st.sendEnd = true
		st.send.release()
		s.maybeRemoveLocked(st)
	}
}

// ackNames reports whether the ranges name pn.
func ackNames(ranges []tracker.AckRange, pn uint64) bool {
	for _, r := range ranges {
		if r.Smallest <= pn && pn <= r.Largest {
			return true
		}
	}
	return false
}

// rxMuHeldRanges copies the frame's ranges into the tracker's type (the
// scratch belongs to the receive path, which holds rxMu), cut at the largest
// packet number the tracker registered: ACK-only packets above it are not
// tracked, and the tracker refuses ranges beyond what it knows.
func (s *Session) rxMuHeldRanges(f *wire.AckFrame) {
	s.ackRanges = s.ackRanges[:0]
	if !s.hasTracked {
		return
	}
	it := f.Ranges()
	for {
		r, ok := it.Next()
		if !ok {
			break
		}
		if r.Smallest > s.largestTracked {
			continue
		}
		s.ackRanges = append(s.ackRanges, tracker.AckRange{Smallest: r.Smallest, Largest: min(r.Largest, s.largestTracked)})
	}
}

// Flush sends what the packets handled since the last Flush made due: an
// ACK that cannot wait, retransmissions, data the ACKs let leave. Drivers
// call it once per batch of datagrams.
func (s *Session) Flush(now monotime.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	work := s.pingDue || (s.acks.now && s.acks.pending) || len(s.retx) > 0 || s.probes > 0 ||
		s.connGrantDue || s.maxStreamsDue || s.ctlq.len() > 0 || (s.pm.due && !s.pm.inFlight)
	if !work && s.sendq.len() > 0 {
		// Queued data the ACKs may let leave: a parked writer sends it
		// (sealing on its own goroutine), else this goroutine does.
		msgWriter := s.writers > 0 && s.msg.queued
		work = !msgWriter && !s.signalLocked()
	}
	s.mu.Unlock()
	if work {
		s.pump(now)
	}
}
