package congestion

import (
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// testStart is the fake clock's origin (monotime's zero means "unset").
const testStart = monotime.Time(time.Second)

// simPacket is one packet in the simulated pipe.
type simPacket struct {
	sent  monotime.Time
	ackAt monotime.Time
	size  uint64
}

// sim is an ack-clocked, single-path, in-order network driven by a fake
// clock: every ACK releases one packet and the sender refills the window at
// once. The RTT of a packet is rttFn at its send time; ACKs never reorder.
type sim struct {
	t        testing.TB
	c        Controller
	rtt      RTT
	now      monotime.Time
	mss      uint64
	q        []simPacket // in flight, oldest first
	inFlight uint64
	lastAck  monotime.Time
	lastSent monotime.Time
	rttFn    func() time.Duration
	acks     int
}

func newSim(t testing.TB, c Controller, rtt time.Duration) *sim {
	s := &sim{t: t, c: c, rtt: NewRTT(0), now: testStart, mss: DefaultMaxDatagramSize}
	s.setRTT(rtt)
	s.fill()
	return s
}

// setRTT makes packets sent from now on take d to be acknowledged.
func (s *sim) setRTT(d time.Duration) { s.rttFn = func() time.Duration { return d } }

// fill sends packets while the window has room for a full one.
func (s *sim) fill() {
	for s.inFlight+s.mss <= s.c.Window() {
		// Distinct send times, 1 ns apart, without moving the clock (so
		// RTT samples stay exact).
		sent := max(s.now, s.lastSent+1)
		s.lastSent = sent
		s.c.OnPacketSent(sent, s.mss, s.inFlight)
		ackAt := max(sent.Add(s.rttFn()), s.lastAck)
		s.lastAck = ackAt
		s.q = append(s.q, simPacket{sent: sent, ackAt: ackAt, size: s.mss})
		s.inFlight += s.mss
	}
}

// ack delivers the ACK of the oldest packet in flight and refills.
func (s *sim) ack() {
	if len(s.q) == 0 {
		s.t.Fatal("sim: nothing in flight")
	}
	p := s.q[0]
	s.q = s.q[1:]
	if p.ackAt.After(s.now) {
		s.now = p.ackAt
	}
	s.rtt.Update(s.now.Sub(p.sent), 0)
	s.rtt.ResetBackoff()
	s.c.OnAck(s.now, p.sent, p.size, s.inFlight, &s.rtt)
	s.inFlight -= p.size
	s.acks++
	s.fill()
}

// lose declares the oldest packet in flight lost at the time its ACK was due
// and refills.
func (s *sim) lose() {
	p := s.q[0]
	s.q = s.q[1:]
	if p.ackAt.After(s.now) {
		s.now = p.ackAt
	}
	s.c.OnCongestionEvent(s.now, p.sent, p.size, s.inFlight)
	s.inFlight -= p.size
	s.fill()
}

// run acks until cond holds, failing after limit ACKs.
func (s *sim) run(limit int, cond func() bool) {
	s.t.Helper()
	for range limit {
		if cond() {
			return
		}
		s.ack()
	}
	if !cond() {
		s.t.Fatalf("sim: condition not reached after %d ACKs (window %d, now %v)", limit, s.c.Window(), s.now.Sub(testStart))
	}
}

// runFor acks until the clock has advanced by d.
func (s *sim) runFor(d time.Duration) {
	s.t.Helper()
	end := s.now.Add(d)
	s.run(10_000_000, func() bool { return !s.now.Before(end) })
}

// packets converts a window in bytes to datagrams.
func packets(bytes uint64) float64 { return float64(bytes) / DefaultMaxDatagramSize }
