package session

import "fmt"

// DebugState describes the sender's state, for failing tests.
func (s *Session) DebugState() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msg
	return fmt.Sprintf("closed=%v err=%v nextPN=%d largestAcked=%d retx=%d probes=%d pingDue=%v connGrantDue=%v connCredit=%d connSent=%d msgCredit=%d msg{base=%d next=%d written=%d} streams=%d sendq=%d ctlq=%d flight=%d cwnd=%d writers=%d lossTimer=%v acksPending=%v tracker=%+v",
		s.closed, s.closeErr, s.nextPN, s.largestAcked, len(s.retx), s.probes, s.pingDue, s.connGrantDue, s.connCredit, s.connSent, m.credit,
		m.send.base, m.send.next, m.send.written, len(s.streams), s.sendq.len(), s.ctlq.len(), s.flight.Load(), s.cc.Window(), s.writers, s.lossTimer.Pending(), s.acks.pending, s.tr.Stats()) + s.streamStates()
}

func (s *Session) streamStates() string {
	out := ""
	n := 0
	for id, st := range s.streams {
		if n++; n > 8 {
			break
		}
		out += fmt.Sprintf("\n  stream %d: err=%v send{base=%d next=%d written=%d credit=%d fin=%v/%v/%v end=%v queued=%v} recv{hi=%d limit=%d window=%d front=%d consumed=%d fin=%v discard=%v end=%v} abort{sent=%v due=%v ack=%v} prog=%v/%v",
			id, st.err, st.send.base, st.send.next, st.send.written, st.credit, st.finWritten, st.finSent, st.finAcked, st.sendEnd, st.queued,
			st.recvHi, st.limit, st.window, st.rx.frontier.Load(), st.rx.consumed.Load(), st.finRecv, st.discard, st.recvEnd, st.abortSent, st.abortDue, st.abortAck, st.sendProg, st.recvProg)
	}
	return out
}

// SentOffset is the first byte of the stream never sent.
func (st *Stream) SentOffset() uint64 {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.send.next
}

// FlightBooks returns, in one snapshot under the session's lock (every
// change of the flight happens under it), the FlightSize, the bytes of the
// packets of st still in flight and those of every other packet in flight.
func (s *Session) FlightBooks(st *Stream) (flight, mine, others uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flightBooksLocked(st)
}

func (s *Session) flightBooksLocked(st *Stream) (flight, mine, others uint64) {
	lo, hi := s.log.bounds()
	mask := uint64(len(s.log.recs) - 1)
	for pn := lo; pn < hi; pn++ {
		rec := s.log.recs[pn&mask]
		if !rec.used || !s.tr.InFlight(pn) {
			continue
		}
		if st != nil && rec.st == st {
			mine += uint64(rec.size)
		} else {
			others += uint64(rec.size)
		}
	}
	return s.flight.Load(), mine, others
}

// StreamCount is the number of byte streams the session still holds.
func (s *Session) StreamCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Buffered is the bytes the stream's send buffer holds (written, not yet
// acknowledged).
func (st *Stream) Buffered() uint64 {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.send.written - st.send.base
}

// RecvWindow is the stream's receive window and the connection's.
func (st *Stream) RecvWindow() (stream, conn uint64) {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.window, st.s.connWindow
}

// ConnFlow returns the connection's receive-side flow-control books: the
// bytes received (the sum of every stream's highest offset) and the bytes
// credited back as consumed.
func (s *Session) ConnFlow() (recvd, consumed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connRecvd, s.connConsumed.Load()
}

// Copying reports whether the stream's reader is copying out of the
// reassembly buffer right now.
func (st *Stream) Copying() bool { return st.rx.state.Load()&rxReading != 0 }

// LoggedPackets returns how many packets the sent log holds records of,
// and the slots of its ring.
func (s *Session) LoggedPackets() (count, slots int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.count, len(s.log.recs)
}
