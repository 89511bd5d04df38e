package batchio

// This file sizes sendmmsg calls so they can be made without entering Go's
// scheduler. It is pure and portable so it is tested everywhere; only Linux
// sends in batches.
//
// Why: every sendmmsg batchio makes is non-blocking (MSG_DONTWAIT on a
// non-blocking socket). It never waits for anything; it only works, for a
// time about linear in the headers and GSO segments it moves.
// syscall.Syscall brackets a call with the scheduler's
// entersyscall/exitsyscall: the P is marked as in a system call, and
// sysmon (which wakes every 20 µs for as long as it keeps retaking Ps,
// backing off towards 10 ms after 50 wake-ups without) hands the P to
// another thread when the call outlives one of its ticks and goroutines
// wait on that P or no P is idle (runtime/proc.go, retake). On a 2-core
// machine that runs a sender and a receiver, a 64-datagram sendmmsg on
// loopback (about 3.5 µs of kernel work per datagram) always outlives a
// tick. The go runtime's own short calls skip the bracket (RawSyscall); a
// call known to be short can too.
// Measured on the 2-vCPU benchmark machine (BenchmarkLoopback/mmsg against
// /mmsg-sched, the same sends through syscall.Syscall): see BENCHMARKS.md.
//
// How: a Conn keeps sendCost, an estimate of the time sendmmsg spends on
// its socket per header and per GSO segment, and cuts every call so that
// the estimate of its length stays within rawSendBudget; such a call is
// made raw. A header that alone would exceed the budget (a long GSO run on
// a slow path) goes alone through syscall.Syscall, so the scheduler can
// still hand the P over while it runs. Every call's measured length feeds
// the estimate: a slower observation replaces it at once, so an
// underestimate costs at most one overlong raw call; a faster one moves it
// a quarter of the way, so one fast outlier does not make the next calls
// long. Either way the estimate afterwards predicts at least the measured
// length for a call like the one measured.
//
// Why two parts: the kernel hands a GSO run down the stack as one packet,
// so each segment past the first costs a fraction of a datagram sent
// alone (on loopback about 0.3-0.9 µs against 3-9 µs). One cost per
// datagram fed by both kinds of call falls towards the segments' cost
// during a stretch of GSO runs, and the singles that follow are then sent
// in a raw call many times the budget (186 µs in TestRawSendsMixedTraffic's
// setting). So a header of c datagrams is predicted to cost perHeader +
// (c-1)*perSegment. Calls of singles only measure perHeader. A call with
// GSO runs prices its headers at perHeader and charges the rest of its
// length to its extra segments; only when perHeader alone accounts for the
// whole call (a GSO header costs at least a single) does it lower
// perHeader, towards its length per header, and perSegment towards zero.
// A GSO call thus lowers perHeader only towards what a whole GSO header
// cost, never towards what one of its segments did.

import "time"

const (
	// rawSendBudget bounds the predicted length of a raw sendmmsg: sysmon's
	// shortest tick, the longest the runtime lets a system call hold a P
	// without looking at it. A raw call delays a stop-the-world, and the
	// goroutines queued on its P, by its length: this long, as predicted.
	rawSendBudget = 20 * time.Microsecond
	// initialSendCost is each estimate before a call has measured it:
	// pessimistic (loopback costs ~3.5 µs per 1200-byte datagram on a
	// 2-vCPU VM, a GSO segment under 1 µs), so the first call of singles
	// carries 4 and measures, and the first long GSO run goes alone,
	// scheduled, and measures.
	initialSendCost = 5 * time.Microsecond
)

// sendCost estimates the time sendmmsg takes: perHeader for each header
// plus perSegment for each datagram of a GSO run past its first. Zero
// fields hold no estimate yet (initialSendCost stands in). It is the
// writer's: Conn.wmu guards it.
type sendCost struct {
	perHeader  time.Duration
	perSegment time.Duration
}

// costs returns the estimates, initialSendCost for those not yet measured.
func (e *sendCost) costs() (perHeader, perSegment time.Duration) {
	perHeader, perSegment = e.perHeader, e.perSegment
	if perHeader <= 0 {
		perHeader = initialSendCost
	}
	if perSegment <= 0 {
		perSegment = initialSendCost
	}
	return perHeader, perSegment
}

// next returns how many of runs (len(runs) >= 1) the next sendmmsg should
// carry and whether it may be made raw: the longest prefix whose predicted
// length is within budget, or the first run alone, made through the
// scheduler, when even that one is predicted longer. budget <= 0 means no
// call is raw (every run of the chunk in one scheduled call).
func (e *sendCost) next(runs []run, budget time.Duration) (n int, raw bool) {
	if budget <= 0 {
		return len(runs), false
	}
	h, s := e.costs()
	var predicted time.Duration // stops growing once past budget: no overflow
	for i, r := range runs {
		predicted += h + time.Duration(r.count-1)*s
		if predicted > budget {
			if i == 0 {
				return 1, false
			}
			return i, true
		}
	}
	return len(runs), true
}

// observe records that a sendmmsg sent the headers of sent in took.
func (e *sendCost) observe(sent []run, took time.Duration) {
	var hdrs, extra time.Duration
	for _, r := range sent {
		hdrs++
		extra += time.Duration(r.count - 1)
	}
	if hdrs == 0 {
		return
	}
	took = max(took, 0)
	if extra == 0 {
		e.perHeader = track(e.perHeader, ceilDiv(took, hdrs))
		return
	}
	h, s := e.costs()
	if rest := took - hdrs*h; rest > 0 {
		e.perSegment = track(e.perSegment, ceilDiv(rest, extra))
		return
	}
	// perHeader alone predicts the whole call: it is above what a GSO
	// header costs here, hence above a single's. Both come down, so the
	// prediction for calls like this one does too.
	e.perHeader = track(h, ceilDiv(took, hdrs))
	e.perSegment = track(s, 0)
}

// track returns the estimate est after an observation obs: obs when it is
// not below est, else est moved a quarter of the way down to it (rounded
// so that it reaches obs). It is never below 1 ns: a coarse clock can read
// 0.
func track(est, obs time.Duration) time.Duration {
	obs = max(obs, 1)
	if obs >= est {
		return obs
	}
	return est - (est-obs+3)/4
}

// ceilDiv is d/n rounded up, for d >= 0 and n > 0: the estimate never
// rounds below what was measured.
func ceilDiv(d, n time.Duration) time.Duration { return (d + n - 1) / n }
