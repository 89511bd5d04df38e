package session

import (
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
)

// Close ends the session: bytes queued by SendMessage and never sent leave
// first if the window lets them (as they would have before a Close had the
// writer sent them itself), then it sends a CLOSE frame (best effort,
// once), wakes every parked caller with ErrClosed, stops the session's
// timers, drops its packets from the tracker, gives its buffers back and
// waits for the sender goroutine to end. It is idempotent and safe to call
// concurrently with every other method. It must not be called from inside
// HandlePacket (the session ends itself there when it must).
func (s *Session) Close() error {
	s.mu.Lock()
	queued := !s.closed && s.sendq.len() > 0
	s.mu.Unlock()
	if queued {
		s.pump(s.cfg.Clock())
	}
	s.end(ErrClosed, CodeNoError, true)
	s.flushers.Wait()
	return nil
}

// CloseWithError ends the session as Close does, with reason as its end
// (Err returns it, OnClose receives it) and in the CLOSE frame's reason
// text, so both sides learn why: the owner's idle reaper, a transient
// reservation's expiry, an eviction. A nil reason is Close.
func (s *Session) CloseWithError(reason error) error {
	if reason == nil {
		reason = ErrClosed
	}
	s.end(reason, CodeNoError, true)
	return nil
}

// fail ends the session with err; code goes into the CLOSE frame sent to
// the peer (none is sent when the peer closed, or the path is dead).
func (s *Session) fail(err error, code uint64) {
	_, peerClosed := err.(*PeerClosedError)
	send := !peerClosed && err != ErrIdleTimeout && err != ErrRetransmitLimit
	s.end(err, code, send)
}

// end runs the close path once.
func (s *Session) end(reason error, code uint64, sendClose bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	var pkt *[]byte
	var key *secure.SealKey
	var pn uint64
	var hdrLen int
	if sendClose {
		pkt, key, pn, hdrLen = s.packCloseLocked(code, reason)
	}
	s.closed = true
	s.closeErr = reason
	s.alive.Store(false)
	s.signalLocked()
	s.readableLocked()
	remote := s.remote
	s.mu.Unlock()

	if pkt != nil {
		out := key.Seal(*pkt, hdrLen, pn)
		_ = s.cfg.Out.Send(remote, [][]byte{out}) // best effort: the peer's idle timeout covers a loss
		putBuf(pkt)
	}
	w := s.cfg.Wheel
	w.Cancel(&s.lossTimer)
	w.Cancel(&s.ackTimer)
	w.Cancel(&s.paceTimer)
	w.Cancel(&s.liveTimer)
	w.Cancel(&s.mtuTimer)

	s.rxMu.Lock()
	s.prot.Close()
	s.rxMu.Unlock()

	s.mu.Lock()
	// Every stream ends early, through the one abort path (no
	// STREAM_ABORT leaves: the session is closed).
	for _, st := range s.streams {
		s.abortStreamLocked(st, StreamCodeSessionDone, reason, false)
		st.recvEnd, st.sendEnd = true, true
		s.maybeRemoveLocked(st)
	}
	s.tr.DropStream(messageStream)
	for _, it := range s.retx {
		s.tr.Abandon(it.lost)
	}
	// Control packets (PINGs, credit updates) are in no stream: abandon
	// every packet still logged, so the flight ends at 0.
	lo, hi := s.log.bounds()
	for pn := lo; pn < hi; pn++ {
		if _, ok := s.log.take(pn); ok {
			s.tr.Abandon(pn)
		}
	}
	s.retx = nil
	s.msg.send.release()
	s.recv.release()
	s.acceptable.wake()
	s.openable.wake()
	s.mu.Unlock()

	if s.cfg.OnClose != nil {
		if reason == ErrClosed {
			reason = nil
		}
		s.cfg.OnClose(reason)
	}
}

// packCloseLocked builds the CLOSE packet (not tracked: it is never
// retransmitted, RFC 9000 section 10.2).
func (s *Session) packCloseLocked(code uint64, reason error) (*[]byte, *secure.SealKey, uint64, int) {
	pn := s.nextPN
	key, err := s.prot.SealKey(pn, s.cfg.Clock())
	if err != nil {
		return nil, nil, 0, 0
	}
	s.nextPN++
	pnLen := wire.PacketNumberLen(pn, s.largestAcked, s.hasAcked)
	buf := s.getBuf()
	pkt := wire.AppendShortHeader((*buf)[:0], &wire.ShortHeader{KeyPhase: key.Phase(), DCID: s.cfg.RemoteCID, PN: pn, PNLen: pnLen})
	hdrLen := len(pkt)
	msg := ""
	if reason != nil && reason != ErrClosed {
		msg = reason.Error()
		if len(msg) > wire.MaxReasonLen {
			msg = msg[:wire.MaxReasonLen]
		}
	}
	pkt = wire.AppendCloseFrame(pkt, code, msg)
	*buf = finish(pkt, hdrLen, pnLen)
	return buf, key, pn, hdrLen
}
