package session

import (
	"time"

	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/tracker"
)

// persistentPTOs is the number of consecutive probe timeouts that establish
// persistent congestion. RFC 9002 section 7.6.1 defines its duration as
// (smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) *
// kPersistentCongestionThreshold (3): exactly three PTO periods, so three
// probe timeouts in a row without an ACK span it.
const persistentPTOs = 3

// probePackets is how many probes a probe timeout sends: RFC 9002 section
// 6.2.4 allows two, so that one lost probe does not cost another timeout.
const probePackets = 2

func ackDelay(f *wire.AckFrame) time.Duration {
	const maxMicros = uint64(1<<63-1) / uint64(time.Microsecond)
	return time.Duration(min(f.DelayMicros, maxMicros)) * time.Microsecond
}

// trackerRTT is the estimator's state as loss detection needs it.
func (s *Session) trackerRTTLocked() tracker.RTT {
	r := tracker.RTT{
		Latest:      s.rtt.LatestRTT(),
		RTTVar:      s.rtt.RTTVar(),
		MaxAckDelay: s.rtt.MaxAckDelay(),
		PTOCount:    int(s.rtt.PTOCount()),
	}
	if s.rtt.HasSample() {
		r.Smoothed = s.rtt.SmoothedRTT()
	}
	return r
}

// detectLossLocked runs loss detection at now: packets found lost (or
// probed) leave the flight in the tracker; their stream ranges join the
// retransmission queue, their control frames are regenerated; the
// controller hears of the congestion event; the loss timer is re-armed.
func (s *Session) detectLossLocked(now monotime.Time) {
	prior := s.flight.Load()
	rs, res := s.tr.DueForResend(s.resends[:0], now, s.trackerRTTLocked())
	s.resends = rs[:0]
	if res.Lost > 0 {
		s.stats.lostPackets.Add(uint64(res.Lost))
		// A lost path MTU probe is no congestion signal (RFC 9000 section
		// 14.4, RFC 8899 section 4.1): only other losses reach the
		// controller. (LargestLostSent may then be the probe's send time,
		// at most one probe later than the latest other loss: the
		// recovery-period check can only err toward one more reduction.)
		lost := res.Lost
		for i := range rs {
			if !rs[i].Probe && s.log.isMTUProbe(rs[i].PN) {
				lost--
			}
		}
		if lost > 0 {
			s.cc.OnCongestionEvent(now, res.LargestLostSent, res.LostBytes, prior)
		}
	}
	if res.PTO {
		s.stats.ptos.Add(1)
		s.stats.lostPackets.Add(uint64(res.Probes))
		s.rtt.OnTimeout()
		s.probes = probePackets
		if s.rtt.PTOCount() >= persistentPTOs && !s.pcEpisode {
			s.pcEpisode = true
			s.cc.OnRetransmissionTimeout(now)
			s.rtt.OnPersistentCongestion()
		}
	}
	streamProbe := false
	for i := range rs {
		r := &rs[i]
		rec, ok := s.log.take(r.PN)
		if !ok {
			s.tr.Abandon(r.PN)
			continue
		}
		if rec.mtuProbe {
			s.tr.Abandon(r.PN) // never retransmitted (RFC 9000 section 14.4)
			s.onMTUProbeLostLocked(r.PN, int(rec.n), now)
			rs[i] = tracker.Resend{}
			continue
		}
		if int(rec.size) > baseDatagram {
			s.pm.bigLost++
		}
		s.regenerateLocked(&rec)
		if rec.st != nil && rec.st.err == nil && !rec.st.removed {
			s.retx = append(s.retx, retxItem{lost: r.PN, st: rec.st, off: rec.off, n: rec.n, fin: rec.fin})
			streamProbe = streamProbe || r.Probe
		} else {
			s.tr.Abandon(r.PN) // control frames are rebuilt, not resent
		}
		rs[i] = tracker.Resend{}
	}
	if res.PTO && s.pm.bigLost > 0 && s.rtt.PTOCount() >= blackHolePTOs {
		// Packets above the base size lost, none acknowledged since, over
		// two probe timeouts in a row: a black hole (pmtud.go).
		s.blackHoleLocked(now)
	}
	if res.PTO && !streamProbe && len(s.retx) == 0 {
		s.pingDue = true // nothing to probe with: a PING (RFC 9002 section 6.2.4)
	}
	if res.Abandoned > 0 {
		// Data lost after MaxRetransmits: the message stream cannot
		// continue. fail runs once the caller released mu.
		s.abandoned = true
	}
	if res.Next != 0 {
		s.cfg.Wheel.Reset(&s.lossTimer, res.Next)
	} else {
		s.cfg.Wheel.Cancel(&s.lossTimer)
	}
}

// regenerateLocked marks the control frames of a lost packet due again,
// those still meaningful: MAX_DATA, MAX_STREAMS and MAX_STREAM_DATA are
// re-sent at their current values, a STREAM_ABORT until acknowledged.
func (s *Session) regenerateLocked(rec *sentRecord) {
	if rec.maxData {
		s.connGrantDue = true
	}
	if rec.maxStreams {
		s.maxStreamsDue = true
	}
	if st := rec.ctl; st != nil {
		due := false
		if rec.ctlGrant && st.err == nil && !st.removed && !st.discard && !st.finRecv {
			st.grantDue, due = true, true
		}
		if rec.ctlAbort && !st.abortAck {
			st.abortDue, due = true, true
		}
		if due {
			s.queueCtlLocked(st)
		}
	}
}

func (s *Session) onLossTimer(now monotime.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.detectLossLocked(now)
	abandoned := s.abandoned
	s.signalLocked()
	s.mu.Unlock()
	if abandoned {
		s.fail(ErrRetransmitLimit, CodeInternal)
		return
	}
	s.pump(now)
}

func (s *Session) onAckTimer(now monotime.Time) {
	s.mu.Lock()
	if s.closed || !s.acks.pending {
		s.mu.Unlock()
		return
	}
	s.acks.now = true
	s.mu.Unlock()
	s.pump(now)
}

func (s *Session) onPaceTimer(now monotime.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.signalLocked()
	s.mu.Unlock()
	s.pump(now)
}

// onLiveTimer ends a session that heard nothing for the idle timeout and
// sends a keepalive PING after the keepalive interval without sending; it
// re-arms itself from the last activity (lazily: receiving and sending
// never touch the timer).
func (s *Session) onLiveTimer(now monotime.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if now.Sub(s.lastRecv) >= s.cfg.IdleTimeout {
		s.mu.Unlock()
		s.fail(ErrIdleTimeout, 0)
		return
	}
	ping := s.cfg.KeepaliveInterval > 0 && now.Sub(s.lastSent) >= s.cfg.KeepaliveInterval
	if ping {
		s.pingDue = true
		s.probes = max(s.probes, 1) // as Keepalive: it must leave whatever the window
		s.lastSent = now            // the PING about to leave; re-arm from it
	}
	s.armLiveLocked()
	s.mu.Unlock()
	if ping {
		s.pump(now)
	}
}

// Keepalive sends a PING now.
func (s *Session) Keepalive(now monotime.Time) error {
	s.mu.Lock()
	if s.closed {
		err := s.closeErr
		s.mu.Unlock()
		return err
	}
	s.pingDue = true
	// A keepalive leaves as a probe, whatever the window and the pacer: on
	// a path that came back after an outage the window is collapsed and
	// the probe timeout backed off for tens of seconds, and this PING's
	// ACK is what resets the backoff (RFC 9002 6.2.1 allows probes at any
	// time for this purpose).
	s.probes = max(s.probes, 1)
	s.mu.Unlock()
	s.pump(now)
	return nil
}
