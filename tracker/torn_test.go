package tracker

import "testing"

// duringRefresh makes f run inside the next Refreshes, at the point named
// by published: before (false) or after (true) the compare-and-swap that
// publishes the next generation. The hook is removed when the test ends.
func duringRefresh(t *testing.T, published bool, f func()) {
	testHookRefresh = func(p bool) {
		if p == published {
			f()
		}
	}
	t.Cleanup(func() { testHookRefresh = nil })
}

// TestRefreshPublishesSendTime: loss detection reads an entry's send time
// with its state word and trusts it if the word did not change (entry's
// guard map). So the moment Refresh publishes generation g+1, the send
// time of that copy must already be readable: a DueForResend that runs
// right after the compare-and-swap must judge the packet by its new copy,
// not by the original sent long ago (which would declare the copy it just
// sent lost, and at MaxRetransmits abandon it and release its bytes while
// the copy is on the wire).
func TestRefreshPublishesSendTime(t *testing.T) {
	r := newRig(t, Config{MaxRetransmits: 1})
	r.send(t, 0, 1, 100, ms)
	r.send(t, 1, 1, 10, 1000*ms)
	r.ack(t, 1001*ms, rng(1, 1)) // packet 0 was sent 1s before an acked one: lost
	now := 1001 * ms
	if got, _ := r.t.DueForResend(nil, now, rtt10); len(got) != 1 || got[0].PN != 0 || got[0].Gen != 0 {
		t.Fatalf("handed out %+v, want packet 0 at generation 0", got)
	}

	var (
		seen []Resend
		res  LossResult
	)
	duringRefresh(t, true, func() { seen, res = r.t.DueForResend(nil, now, rtt10) })
	if !r.t.Refresh(0, 0, now) { // the resend of packet 0 went out at now
		t.Fatal("Refresh failed")
	}
	if len(seen) != 0 || res.Abandoned != 0 || res.Lost != 0 {
		t.Fatalf("DueForResend right after the refresh: handed out %+v, %+v; the copy sent at %v is not lost", seen, res, now)
	}
	if !r.t.InFlight(0) {
		t.Fatal("the refreshed packet left flight")
	}
	r.checkBooks(t)
}

// TestAckRightAfterRefresh: an ACK that runs right after Refresh published
// the next generation reports that copy's send time and no RTT sample.
func TestAckRightAfterRefresh(t *testing.T) {
	r := newRig(t, Config{})
	r.send(t, 0, 1, 100, ms)
	var ack AckResult
	duringRefresh(t, true, func() { ack = r.ack(t, 50*ms, rng(0, 0)) })
	if !r.t.Refresh(0, 0, 40*ms) {
		t.Fatal("Refresh failed")
	}
	if ack.NewlyAcked != 1 || ack.LargestNewlySent != 40*ms || ack.RTTValid {
		t.Fatalf("ACK right after a refresh at 40ms: %+v, want the copy of 40ms acked, no RTT sample", ack)
	}
	r.checkBooks(t)
}

// TestFailedRefreshLeavesSendTime: a Refresh that fails (stale generation,
// packet of a recycled slot) must not touch the send time of the copy in
// flight.
func TestFailedRefreshLeavesSendTime(t *testing.T) {
	r := newRig(t, Config{})
	r.send(t, 0, 1, 100, ms)
	if !r.t.Refresh(0, 0, 20*ms) {
		t.Fatal("Refresh failed")
	}
	if r.t.Refresh(0, 0, 90*ms) { // a stale resend of generation 0
		t.Fatal("stale Refresh succeeded")
	}
	if r.t.Refresh(0, 2, 95*ms) { // a generation not reached yet
		t.Fatal("Refresh of a future generation succeeded")
	}
	if ack := r.ack(t, 100*ms, rng(0, 0)); ack.LargestNewlySent != 20*ms {
		t.Fatalf("acked copy sent at %v, want 20ms (the failed refreshes changed it)", ack.LargestNewlySent)
	}
	r.checkBooks(t)
}

// TestAckDuringRefresh: an ACK that resolves the packet while a Refresh
// of its first copy is under way (the resend is on the wire, its time
// stamped, its generation not yet published) acks an ambiguous packet: no
// RTT sample (Karn), whichever copy's send time it read. The Refresh then
// fails and nothing comes back.
func TestAckDuringRefresh(t *testing.T) {
	r := newRig(t, Config{})
	r.send(t, 0, 1, 100, ms)
	var ack AckResult
	duringRefresh(t, false, func() { ack = r.ack(t, 50*ms, rng(0, 0)) })
	if r.t.Refresh(0, 0, 40*ms) {
		t.Fatal("Refresh succeeded on a packet acked under it")
	}
	if ack.NewlyAcked != 1 || ack.AckedBytes != 100 || ack.RTTValid {
		t.Fatalf("ACK during a refresh: %+v, want the packet acked without an RTT sample", ack)
	}
	if r.t.InFlight(0) {
		t.Fatal("acked packet came back")
	}
	r.checkBooks(t)
}
