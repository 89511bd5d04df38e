package batchio

// This file sizes sendmmsg calls so they can be made without entering Go's
// scheduler. It is pure and portable so it is tested everywhere; only Linux
// sends in batches.
//
// Why: every sendmmsg batchio makes is non-blocking (MSG_DONTWAIT on a
// non-blocking socket). It never waits for anything; it only works, for a
// time proportional to the datagrams it moves. syscall.Syscall brackets a
// call with the scheduler's entersyscall/exitsyscall: the P is marked as in
// a system call, and sysmon, which wakes every 20 µs while it finds such
// Ps, hands the P to another thread when the call outlives one of its
// ticks and no P is idle. On a 2-core machine that runs a sender and a
// receiver, a 64-datagram sendmmsg on loopback (about 3.5 µs of kernel
// work per datagram) always outlives a tick. The go runtime's own short
// calls skip the bracket (RawSyscall); a call known to be short can too.
// Measured on the 2-vCPU benchmark machine (BenchmarkLoopback/mmsg against
// /mmsg-sched, the same sends through syscall.Syscall): see BENCHMARKS.md.
//
// How: a Conn keeps sendCost, an estimate of the time sendmmsg spends per
// datagram on its socket, and cuts every call so that the estimate of its
// length stays within rawSendBudget; such a call is made raw. A header that
// alone would exceed the budget (a long GSO run on a slow path) goes alone
// through syscall.Syscall, so the scheduler can still hand the P over while
// it runs. Every call's measured length feeds the estimate: a slower
// observation replaces it at once, so an underestimate costs at most one
// overlong raw call; a faster one moves it a quarter of the way, so one
// fast outlier does not make the next calls long.

import "time"

const (
	// rawSendBudget bounds the predicted length of a raw sendmmsg: sysmon's
	// shortest tick, the longest the runtime lets a system call hold a P
	// without looking at it. A raw call delays a stop-the-world by at most
	// about this long.
	rawSendBudget = 20 * time.Microsecond
	// initialSendCost is the estimate before the first send: pessimistic
	// (loopback costs ~3.5 µs per 1200-byte datagram on a 2-vCPU VM), so
	// the first call carries 4 datagrams and measures.
	initialSendCost = 5 * time.Microsecond
)

// sendCost estimates the time sendmmsg takes per datagram (a GSO run of n
// segments counts n). The zero value holds no estimate yet. It is the
// writer's: Conn.wmu guards it.
type sendCost struct {
	perDatagram time.Duration
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
	per := e.perDatagram
	if per <= 0 {
		per = initialSendCost
	}
	fits := int64(budget / per) // datagrams within budget
	var datagrams int64
	for i, r := range runs {
		datagrams += int64(r.count)
		if datagrams > fits {
			if i == 0 {
				return 1, false
			}
			return i, true
		}
	}
	return len(runs), true
}

// observe records that a sendmmsg moved datagrams (> 0) in took.
func (e *sendCost) observe(datagrams int, took time.Duration) {
	if datagrams <= 0 {
		return
	}
	per := max(took/time.Duration(datagrams), 1) // a coarse clock can read 0
	if per >= e.perDatagram {
		e.perDatagram = per
		return
	}
	e.perDatagram -= (e.perDatagram - per) / 4
}
