package core

import (
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Reconnect supervision of persistent peers. Each persistent peer has one
// retry timer on the node's wheel (no goroutine, no time.AfterFunc). Its
// health is the count of consecutive failed dials, link.attempt, reset to 0
// by every installed session. After a disconnect the redial waits
// backoff(0); after the k-th consecutive failure it waits backoff(k):
//
//	d          = min(BackoffBase * 2^k, BackoffMax)
//	backoff(k) = uniform over [d*(1-j), min(d*(1+j), BackoffMax)]
//	             with j = BackoffJitter
//
// BackoffMax bounds the final delay, jitter included: no redial ever waits
// longer than the cap. Below the cap the jitter is symmetric around d; at
// the cap its upper half is cut off, so capped delays spread over
// [BackoffMax*(1-j), BackoffMax] (uniformly: clamping after jittering would
// put half of them exactly at the cap, back in lockstep).
//
// The backoff is per peer and counts failed dials, never lost packets (the
// "10 losses -> 60 s" lesson of DESIGN.md).

// backoff returns the jittered delay after k consecutive failures; it never
// exceeds BackoffMax.
func (n *Node) backoff(k uint32) time.Duration {
	maxD := n.cfg.BackoffMax
	d := maxD
	if k < 63 {
		if b := n.cfg.BackoffBase << k; b>>k == n.cfg.BackoffBase && b < d {
			d = b
		}
	}
	j := n.cfg.BackoffJitter
	if j <= 0 {
		return d
	}
	lo := float64(d) * (1 - j)
	hi := min(float64(d)*(1+j), float64(maxD))
	return min(time.Duration(lo+(hi-lo)*n.randFloat()), maxD)
}

// scheduleRetry arms p's retry timer at backoff(attempt) from now. The
// callers keep attempt: install and a session's end reset it, a failed dial
// adds one.
func (n *Node) scheduleRetry(p *Peer, l *link, now monotime.Time) {
	at := now.Add(n.backoff(l.attempt.Load()))
	l.retryAt.Store(int64(at))
	n.arm(p, &l.timers.retry, at)
}

// onRetry is the retry timer's callback, on the wheel's goroutine.
func (n *Node) onRetry(p *Peer, now monotime.Time) {
	if n.ctx.Err() != nil {
		return // Close began: a timer started before Close does nothing after it
	}
	if !p.Persistent() || p.Forgotten() || p.liveRef() != nil {
		return
	}
	l := p.link.Load()
	if f := n.cfg.OnReconnectAttempt; f != nil {
		f(p, int(l.attempt.Load()))
	}
	if n.ctx.Err() != nil {
		return // Close began while the callback ran
	}
	if err := n.startDial(p); err == ErrDialInProgress {
		// A dial (a user's Connect) is in flight: if it fails it
		// reschedules, if it succeeds install cancels this timer; re-arm in
		// case it ends some other way, so supervision is never dropped.
		n.scheduleRetry(p, l, now)
	}
}

// armTimers arms p's two timers for the state of its session slot:
//
//   - a session installed: no redial (retry cancelled), the liveness timer
//     armed for keepalive and idle reaping (it also reaps a zombie);
//   - the slot empty: liveness cancelled, then a redial for a persistent
//     peer, the forget timer for any other.
//
// Every actor that changes the slot (an install, each remover) calls it
// afterwards. It re-reads the slot after arming and goes again if the slot
// changed meanwhile. That is what makes the last writer of each timer right:
// the wheel operations and the slot CAS are not one atomic step, so without
// the re-check an installer could cancel the redial a concurrent remover had
// just armed (a persistent peer left disconnected for good), or a remover
// could cancel the liveness timer a concurrent installer had just armed (a
// session never kept alive nor reaped). With it, the last operation on each
// timer comes from a pass that saw the slot's final value before and after
// arming: any later change of the slot is followed by its actor's own pass.
func (n *Node) armTimers(p *Peer, l *link, now monotime.Time) {
	for {
		if n.ctx.Err() != nil || p.Forgotten() {
			return // Close's sweep or Forget cancels the timers
		}
		r := p.session.Load()
		if r != nil {
			l.forgetting.Store(false)
			n.wheel.Cancel(&l.timers.retry)
			n.arm(p, &l.timers.liveness, now.Add(n.cfg.KeepaliveInterval))
		} else {
			n.wheel.Cancel(&l.timers.liveness)
			if p.Persistent() {
				n.scheduleRetry(p, l, now)
			} else {
				n.armForget(p, l)
			}
		}
		if p.session.Load() == r {
			return
		}
	}
}

// Health is a snapshot of a peer's reconnect health tracker.
type Health struct {
	// Failures is the number of consecutive failed dials since the last
	// installed session: the backoff exponent.
	Failures int
	// NextRetry is when the last scheduled supervised redial is (or was)
	// due; zero if none was ever scheduled.
	NextRetry monotime.Time
}

// Health returns the peer's reconnect health. For monitoring and tests.
func (p *Peer) Health() Health {
	if l := p.link.Load(); l != nil {
		return Health{Failures: int(l.attempt.Load()), NextRetry: monotime.Time(l.retryAt.Load())}
	}
	return Health{}
}

// NextRetry returns Health().NextRetry.
func (p *Peer) NextRetry() monotime.Time { return p.Health().NextRetry }
