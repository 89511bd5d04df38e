package batchio

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRawSendsStayWithinBudget drives a Conn over a path whose speed the
// test sets (fakeSys.perDatagram replaces the measured length of each
// send; the datagrams still go through the kernel and are checked on
// arrival). It checks what sendcost.go promises: raw calls are sized to the
// budget, an underestimate costs at most one overlong raw call, a header
// that alone exceeds the budget goes through the scheduler, one at a time,
// and when the path gets fast again the calls grow back.
func TestRawSendsStayWithinBudget(t *testing.T) {
	const us = time.Microsecond
	f := &fakeSys{}
	tx, rx, dst := fakePair(t, f)
	next := uint32(0)
	// send writes n datagrams of size bytes (GSO runs when the Conn has
	// GSO on), checks they all arrive, and returns the calls it took.
	send := func(n, size int) []sendCall {
		t.Helper()
		msgs := make([]Message, n)
		for i := range msgs {
			msgs[i] = Message{Buffer: payload(make([]byte, size), next+uint32(i)), Addr: dst}
		}
		before := len(f.sends)
		if m, err := tx.WriteBatch(msgs); m != n || err != nil {
			t.Fatalf("WriteBatch: %d of %d, %v", m, n, err)
		}
		expectAll(t, rx, n, next, func(uint32) int { return size })
		next += uint32(n)
		return f.sends[before:]
	}
	gso := tx.Capabilities().GSO
	singles := func(n int) []sendCall {
		t.Helper()
		tx.gso.Store(false)
		defer tx.gso.Store(gso)
		return send(n, 1200)
	}

	// A 3 µs path: after the first call, every call is raw and ends
	// within budget.
	f.perDatagram = 3 * us
	calls := singles(300)
	for i, c := range calls {
		if !c.raw {
			t.Fatalf("3µs path, call %d: scheduled %+v", i, c)
		}
		if i > 0 && c.took > rawSendBudget {
			t.Fatalf("3µs path, call %d: raw call of %v (%d datagrams) over budget %v", i, c.took, c.datagrams, rawSendBudget)
		}
	}
	// Calls are as long as the budget allows (the last of a chunk of
	// BatchSize headers may be shorter).
	if n := maxDatagrams(calls[1:]); n != int(rawSendBudget/(3*us)) {
		t.Fatalf("3µs path: calls of at most %d datagrams, want %d", n, rawSendBudget/(3*us))
	}

	// The path slows to 30 µs a datagram, past the budget: one overlong raw
	// call at most, then one datagram per call, through the scheduler.
	f.perDatagram = 30 * us
	calls = singles(20)
	over := 0
	for i, c := range calls {
		if c.raw {
			over++
			if i > 0 {
				t.Fatalf("30µs path, call %d: raw %+v after the estimate saw the path", i, c)
			}
			continue
		}
		if c.datagrams != 1 {
			t.Fatalf("30µs path, call %d: scheduled call of %d datagrams", i, c.datagrams)
		}
	}
	if over > 1 {
		t.Fatalf("%d overlong raw calls", over)
	}

	// Fast again: calls turn raw and grow.
	f.perDatagram = us / 2
	calls = singles(400)
	grown := false
	for i, c := range calls {
		if c.raw && c.took > rawSendBudget {
			t.Fatalf("0.5µs path, call %d: raw call of %v over budget", i, c.took)
		}
		if i >= 20 && !c.raw {
			t.Fatalf("0.5µs path, call %d: still scheduled", i)
		}
		grown = grown || c.datagrams >= DefaultBatchSize/2
	}
	if !grown {
		t.Fatalf("0.5µs path: calls never grew past %d datagrams: %+v", DefaultBatchSize/2, calls[len(calls)-1])
	}

	// A GSO run longer than the budget leaves alone through the scheduler.
	if gso {
		f.perDatagram = us
		calls = send(3*maxGSOSegments, 1000)
		scheduled := 0
		for _, c := range calls {
			if c.datagrams > int(rawSendBudget/us) {
				if c.raw || c.hdrs != 1 {
					t.Fatalf("GSO: %+v: a call over budget must be one scheduled header", c)
				}
				scheduled++
			}
		}
		if scheduled == 0 {
			t.Fatalf("GSO: no run went scheduled: %+v", calls)
		}
	}
	s := tx.Stats()
	if s.RawSendCalls == 0 || s.RawSendCalls >= s.SendCalls {
		t.Fatalf("Stats: %d raw of %d send calls; want some of each", s.RawSendCalls, s.SendCalls)
	}
}

// TestRawSendsOnRealSockets checks both kinds of calls against the kernel
// (no fake): a burst of singles is sent raw, and with the budget at zero
// every call goes through the scheduler; everything arrives.
func TestRawSendsOnRealSockets(t *testing.T) {
	for _, budget := range []time.Duration{rawSendBudget, 0} {
		rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{})
		tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
		tx.rawBudget = budget
		msgs := singles1200(256, dst)
		if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
			t.Fatalf("budget %v: WriteBatch %d, %v", budget, n, err)
		}
		expectAll(t, rx, len(msgs), 0, func(uint32) int { return 1200 })
		s := tx.Stats()
		if budget > 0 && s.RawSendCalls == 0 || budget == 0 && s.RawSendCalls != 0 {
			t.Fatalf("budget %v: %d raw of %d calls", budget, s.RawSendCalls, s.SendCalls)
		}
	}
}

func maxDatagrams(calls []sendCall) int {
	n := 0
	for _, c := range calls {
		n = max(n, c.datagrams)
	}
	return n
}

// TestRawSendsMixedTraffic: a GSO segment costs the kernel a fraction of a
// datagram sent alone (one packet goes down the stack for the whole run),
// so calls of GSO runs must not teach the Conn that singles are cheap.
// After a stretch of GSO runs, the singles that follow still go in raw
// calls within budget.
func TestRawSendsMixedTraffic(t *testing.T) {
	const us = time.Microsecond
	f := &fakeSys{perDatagram: 3 * us, perSegment: us / 4}
	tx, rx, dst := fakePair(t, f)
	if !tx.Capabilities().GSO {
		t.Skip("kernel without UDP GSO")
	}
	next := uint32(0)
	send := func(n int, gso bool) []sendCall {
		t.Helper()
		tx.gso.Store(gso)
		msgs := make([]Message, n)
		for i := range msgs {
			msgs[i] = Message{Buffer: payload(make([]byte, 1000), next+uint32(i)), Addr: dst}
		}
		before := len(f.sends)
		if m, err := tx.WriteBatch(msgs); m != n || err != nil {
			t.Fatalf("WriteBatch: %d of %d, %v", m, n, err)
		}
		expectAll(t, rx, n, next, func(uint32) int { return 1000 })
		next += uint32(n)
		return f.sends[before:]
	}
	for round := range 3 {
		send(64, false) // singles: the Conn learns their cost
		gsoRaw := false
		for range 4 {
			for _, c := range send(4*maxGSOSegments, true) {
				if c.raw && c.took > rawSendBudget {
					t.Fatalf("round %d: raw GSO call of %v (%d headers, %d datagrams) over budget", round, c.took, c.hdrs, c.datagrams)
				}
				gsoRaw = gsoRaw || c.raw
			}
		}
		// A run of 64 at 3 µs + 63 * 0.25 µs fits the budget: once
		// measured, runs go raw.
		if !gsoRaw {
			t.Fatalf("round %d: no GSO run went raw", round)
		}
		for i, c := range send(64, false) {
			if c.raw && c.took > rawSendBudget {
				t.Fatalf("round %d, singles call %d after GSO runs: raw call of %v (%d datagrams) over budget %v", round, i, c.took, c.datagrams, rawSendBudget)
			}
		}
	}
}

// TestRawSendsPartial: when the kernel sends fewer headers than a call
// carried, the call's length is charged to the datagrams it sent, not to
// those it was given; otherwise each short call would teach the Conn a
// cost per datagram too low, and the first call the kernel sends in full
// would run over budget. The kernel turns from short to full sends in the
// middle of a WriteBatch, before a call at the end of the batch (asked for
// what is left, sent in full) could have set the estimate right.
func TestRawSendsPartial(t *testing.T) {
	const us = time.Microsecond
	for _, maxPerCall := range []int{1, 2} {
		f := &fakeSys{perDatagram: 3 * us, maxPerCall: maxPerCall}
		tx, rx, dst := fakePair(t, f)
		tx.gso.Store(false)
		f.afterSend = func() {
			if len(f.sends) == 8 {
				f.maxPerCall = 0
			}
		}
		msgs := singles1200(128, dst)
		if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
			t.Fatalf("WriteBatch: %d, %v", n, err)
		}
		expectAll(t, rx, len(msgs), 0, func(uint32) int { return 1200 })
		if len(f.sends) <= 8 {
			t.Fatalf("%d calls: the kernel never sent in full", len(f.sends))
		}
		for i, c := range f.sends {
			if c.raw && c.took > rawSendBudget {
				t.Fatalf("at first %d headers per call, call %d: raw call of %v (%d datagrams) over budget", maxPerCall, i, c.took, c.datagrams)
			}
		}
		if h := tx.w.cost.perHeader; h != 3*us {
			t.Fatalf("at first %d headers per call: estimate %v, want the path's 3µs", maxPerCall, h)
		}
	}
}

// TestRawSendsTimed: both system-call layers report how long each real
// sendmmsg ran, which the estimate needs (a layer that reported 0 would
// have every call planned as if it were free).
func TestRawSendsTimed(t *testing.T) {
	for _, mode := range []string{"New", "NewFD"} {
		t.Run(mode, func(t *testing.T) {
			rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{})
			var tx *Conn
			if mode == "New" {
				tx, _ = listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
			} else {
				fd, _ := rawSocket(t, unix.SOCK_NONBLOCK)
				var err error
				if tx, err = NewFD(uintptr(fd), Config{DisableGSO: true}); err != nil {
					t.Fatal(err)
				}
				defer tx.Close()
			}
			f := &fakeSys{real: tx.sys}
			tx.sys = f
			msgs := singles1200(32, dst)
			if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			expectAll(t, rx, len(msgs), 0, func(uint32) int { return 1200 })
			if len(f.sends) == 0 {
				t.Fatal("no send recorded")
			}
			for i, c := range f.sends {
				if c.took <= 0 {
					t.Fatalf("call %d of %d datagrams: took %v", i, c.datagrams, c.took)
				}
			}
			if s := tx.Stats(); s.RawSendCalls == 0 {
				t.Fatalf("no raw call: %+v", s)
			}
		})
	}
}

// singles1200 returns n 1200-byte datagrams to dst with sequence numbers
// 0..n-1.
func singles1200(n int, dst netip.AddrPort) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{Buffer: payload(make([]byte, 1200), uint32(i)), Addr: dst}
	}
	return msgs
}
