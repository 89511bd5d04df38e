package session

import "fmt"

// DebugState describes the sender's state, for failing tests.
func (s *Session) DebugState() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("closed=%v err=%v nextPN=%d largestAcked=%d retx=%d probes=%d pingDue=%v maxDataDue=%v credit=%d send{base=%d next=%d written=%d} recv.granted? flight=%d cwnd=%d writers=%d lossTimer=%v acksPending=%v tracker=%+v",
		s.closed, s.closeErr, s.nextPN, s.largestAcked, len(s.retx), s.probes, s.pingDue, s.maxDataDue, s.credit,
		s.send.base, s.send.next, s.send.written, s.flight.Load(), s.cc.Window(), s.writers, s.lossTimer.Pending(), s.acks.pending, s.tr.Stats())
}
