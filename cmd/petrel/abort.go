package main

import (
	"context"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// abortCode is the code the demo aborts its stream with.
const abortCode = 0x42

// abortResult is what aborting one of A's streams in the middle of the
// lossy phase showed: its share of the flight left at once, and the other
// streams went on (DESIGN.md invariant 4: an aborted stream frees its
// window at once, it does not wait for a retransmission give-up).
type abortResult struct {
	done     bool
	at       time.Duration // since the phase began
	streamID uint64        // A's id of the aborted stream
	parked   time.Duration // how long its writer had waited in Write (0: it was not waiting)

	rtt                             time.Duration // A's smoothed RTT when it aborted
	cwnd, flightBefore, flightAfter uint64
	released                        uint64        // flight bytes the abort dropped (the tracker's DroppedBytes)
	refill                          time.Duration // until A's flight was back at flightBefore; negative: not within window

	window                  time.Duration // the length of each measurement window
	before                  time.Duration // the actual length of the window before the abort
	otherBefore, otherAfter int64         // bytes the other A→B streams delivered in the windows before and after

	seen error // what B's reader of the stream got
}

// abortMidway aborts A's stream 0 of set (whose sending end is conn) at
// the middle of a phase of length d that began at start, preferably while
// its writer waits in Write with the window full, and measures the
// connection's flight and the other streams' delivery around the abort.
func abortMidway(ctx context.Context, start time.Time, d time.Duration, conn *core.Conn, set *flowSet) *abortResult {
	res := &abortResult{window: min(time.Second, d/4)}
	if len(set.writers) < 2 {
		return res
	}
	victim := set.writers[0]
	if !waitUntil(ctx, start.Add(d/2-res.window)) {
		return res
	}
	t0, before0 := time.Now(), set.others(0)
	if !waitUntil(ctx, start.Add(d/2)) {
		return res
	}
	// The writer waits in Write when the stream's send buffer is full,
	// which it is when the window holds its bytes back: give it up to a
	// tenth of the window to get there.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for give := time.Now().Add(res.window / 10); parkedFor(victim) < time.Millisecond && time.Now().Before(give); {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return res
		}
	}
	st := conn.Stats()
	res.parked = parkedFor(victim)
	res.rtt, res.cwnd, res.flightBefore = st.RTT, st.Cwnd, st.InFlight
	before1 := set.others(0)
	victim.aborted.Store(true)
	t1 := time.Now()
	_ = victim.st.Abort(abortCode)
	after := conn.Stats()
	res.at, res.streamID = t1.Sub(start), victim.st.ID()
	res.flightAfter = after.InFlight
	res.released = after.Tracker.DroppedBytes - st.Tracker.DroppedBytes
	res.before, res.otherBefore = t1.Sub(t0), before1-before0

	res.refill = -1
	for end := t1.Add(res.window); res.refill < 0 && time.Now().Before(end); {
		select {
		case <-tick.C:
			if conn.Stats().InFlight >= res.flightBefore {
				res.refill = time.Since(t1)
			}
		case <-ctx.Done():
			return res
		}
	}
	if !waitUntil(ctx, t1.Add(res.window)) {
		return res
	}
	res.otherAfter = set.others(0) - before1
	res.done = true
	return res
}

// parkedFor is how long w's writer has been waiting in Write.
func parkedFor(w *flowWriter) time.Duration {
	if since := w.parkedSince.Load(); since != 0 {
		return time.Since(time.Unix(0, since))
	}
	return 0
}

// waitUntil waits until t or ctx's end; it reports whether t came first.
func waitUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
