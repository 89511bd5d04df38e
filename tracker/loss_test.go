package tracker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

var rtt10 = RTT{Latest: 10 * time.Millisecond, Smoothed: 10 * time.Millisecond, RTTVar: 5 * time.Millisecond, MaxAckDelay: 25 * time.Millisecond}

func pnsOf(rs []Resend) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.PN)
	}
	return out
}

func TestRTTDerived(t *testing.T) {
	tests := []struct {
		name      string
		rtt       RTT
		lossDelay time.Duration
		pto       time.Duration
	}{
		// 9/8 * max(10, 10) = 11.25ms; PTO 10 + max(20, 1) + 25 = 55ms.
		{"worked example", rtt10, 11250 * time.Microsecond, 55 * time.Millisecond},
		{"latest above smoothed", RTT{Latest: 16 * time.Millisecond, Smoothed: 8 * time.Millisecond, RTTVar: time.Millisecond}, 18 * time.Millisecond, 12 * time.Millisecond},
		{"granularity floor", RTT{Latest: 100 * time.Microsecond, Smoothed: 100 * time.Microsecond}, time.Millisecond, 1100 * time.Microsecond},
		{"no sample: kInitialRtt", RTT{}, 333 * time.Millisecond * 9 / 8, 333*time.Millisecond + 4*333*time.Millisecond/2},
		{"backoff once per PTO count", RTT{Smoothed: 10 * time.Millisecond, RTTVar: 5 * time.Millisecond, PTOCount: 3}, 11250 * time.Microsecond, 8 * 30 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rtt.lossDelay(); got != tc.lossDelay {
				t.Errorf("lossDelay = %v, want %v", got, tc.lossDelay)
			}
			if got := tc.rtt.pto(); got != tc.pto {
				t.Errorf("pto = %v, want %v", got, tc.pto)
			}
		})
	}
}

func TestDueForResend(t *testing.T) {
	type step struct {
		now       monotime.Time
		want      []uint64 // handed out
		probe     bool
		next      monotime.Time
		abandoned int
	}
	tests := []struct {
		name  string
		retx  int
		sends []uint64 // all at 1ms, stream 1, 100 bytes
		acks  []AckRange
		rtt   RTT
		steps []step
	}{
		{
			name:  "packet threshold",
			sends: []uint64{0, 1, 2, 3, 4},
			acks:  []AckRange{rng(3, 3)},
			rtt:   rtt10,
			// pn 0 is 3 below the largest acked: lost. 1 and 2 wait for the
			// time threshold: 1ms + 11.25ms.
			steps: []step{{now: 2 * ms, want: []uint64{0}, next: 12250 * monotime.Time(time.Microsecond)}},
		},
		{
			name:  "time threshold",
			sends: []uint64{0, 1},
			acks:  []AckRange{rng(1, 1)},
			rtt:   rtt10,
			steps: []step{
				{now: 12 * ms, next: 12250 * monotime.Time(time.Microsecond)},
				{now: 12250 * monotime.Time(time.Microsecond), want: []uint64{0}},
			},
		},
		{
			name:  "probe timeout",
			sends: []uint64{0, 1, 2},
			rtt:   rtt10,
			// PTO = 55ms after the last send at 1ms; then two probes, the
			// oldest packets, and the next PTO doubled.
			steps: []step{
				{now: 50 * ms, next: 56 * ms},
				{now: 56 * ms, want: []uint64{0, 1}, probe: true, next: 56*ms + 110*ms},
			},
		},
		{
			name:  "all acked: nothing to do",
			sends: []uint64{0, 1},
			acks:  []AckRange{rng(0, 1)},
			rtt:   rtt10,
			steps: []step{{now: 100 * ms}},
		},
		{
			name:  "never retransmit: lost means abandoned",
			retx:  -1,
			sends: []uint64{0, 1, 2, 3},
			acks:  []AckRange{rng(3, 3)},
			rtt:   rtt10,
			steps: []step{{now: 2 * ms, abandoned: 1, next: 12250 * monotime.Time(time.Microsecond)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{MaxRetransmits: tc.retx})
			for _, pn := range tc.sends {
				r.send(t, pn, 1, 100, ms)
			}
			if tc.acks != nil {
				r.ack(t, 2*ms, tc.acks...)
			}
			for i, st := range tc.steps {
				got, res := r.t.DueForResend(nil, st.now, tc.rtt)
				if !slices.Equal(pnsOf(got), st.want) {
					t.Fatalf("step %d: handed out %v, want %v", i, pnsOf(got), st.want)
				}
				for _, g := range got {
					if g.Probe != st.probe || g.Stream != 1 || g.Size != 100 || g.Gen != 0 {
						t.Fatalf("step %d: resend %+v", i, g)
					}
					if r.t.InFlight(g.PN) || r.t.phaseOf(g.PN) != phaseLost {
						t.Fatalf("handed-out packet %d not moved to Lost", g.PN)
					}
				}
				if res.PTO != st.probe || res.Abandoned != st.abandoned {
					t.Fatalf("step %d: %+v", i, res)
				}
				if n := uint64(len(got)) * 100; res.LostBytes+res.ProbeBytes != n {
					t.Fatalf("step %d: released %d+%d for %d packets handed out", i, res.LostBytes, res.ProbeBytes, len(got))
				}
				if st.next != 0 && res.Next != st.next {
					t.Fatalf("step %d: Next = %v, want %v", i, time.Duration(res.Next), time.Duration(st.next))
				}
			}
			r.checkBooks(t)
		})
	}
}

// TestRetransmitLifecycle follows one piece of data through
// MaxRetransmits losses, each retransmitted under a new packet number, to
// its abandonment; each new packet is judged by its own number and send
// time.
func TestRetransmitLifecycle(t *testing.T) {
	const maxRetx = 2
	r := newRig(t, Config{MaxRetransmits: maxRetx})
	for pn := uint64(0); pn < 4; pn++ {
		r.send(t, pn, 1, 100, ms)
	}
	r.ack(t, 2*ms, rng(1, 3))
	now := 3 * ms
	cur, next := uint64(0), uint64(4)
	for gen := Generation(0); gen <= maxRetx; gen++ {
		got, res := r.t.DueForResend(nil, now, rtt10)
		if gen == maxRetx {
			if len(got) != 0 || res.Abandoned != 1 || res.AbandonedBytes != 100 || r.t.InFlight(cur) {
				t.Fatalf("at MaxRetransmits: handed %v, %+v", pnsOf(got), res)
			}
			break
		}
		if len(got) != 1 || got[0].PN != cur || got[0].Gen != gen || res.LostBytes != 100 {
			t.Fatalf("gen %d: handed out %+v, %+v", gen, got, res)
		}
		if r.fl.Load() != 0 {
			t.Fatalf("gen %d: lost packet still counted in the flight (%d)", gen, r.fl.Load())
		}
		if err := r.retransmit(cur, next, 100, now); err != nil {
			t.Fatalf("Retransmit(%d, %d): %v", cur, next, err)
		}
		if r.retransmit(cur, next+100, 100, now) == nil {
			t.Fatal("second Retransmit of the same loss succeeded")
		}
		cur = next
		// The new packet is above every acked one: not lost, however old.
		if again, _ := r.t.DueForResend(nil, now+ms, rtt10); len(again) != 0 {
			t.Fatalf("retransmission handed out again at once: %v", pnsOf(again))
		}
		// Three later packets are acked; the retransmission is lost by the
		// packet threshold.
		for range 3 {
			next++
			r.send(t, next, 2, 10, now+ms)
		}
		r.ack(t, now+2*ms, rng(cur+1, next))
		next++
		now += 20 * ms
	}
	st := r.t.Stats()
	if st.Retransmits != maxRetx || st.Abandoned != 1 || st.Lost != maxRetx || st.LostPending != 0 {
		t.Fatalf("stats %+v", st)
	}
	r.checkBooks(t)
}

// TestPTOFromLatestSend: writers register packets concurrently, so send
// times can reach OnSent out of order. The probe timeout runs from the
// latest ack-eliciting send (RFC 9002 section 6.2.1), not from whichever
// packet was registered last.
func TestPTOFromLatestSend(t *testing.T) {
	r := newRig(t, Config{})
	r.send(t, 0, 1, 100, 50*ms)
	r.send(t, 1, 2, 100, 40*ms) // registered after packet 0, sent before it
	// PTO = 10 + max(4*5, 1) + 25 = 55ms after the latest send at 50ms.
	if got, res := r.t.DueForResend(nil, 104*ms, rtt10); len(got) != 0 || res.PTO || res.Next != 105*ms {
		t.Fatalf("at 104ms: handed out %v, %+v; want nothing before the PTO at 105ms", pnsOf(got), res)
	}
	if got, res := r.t.DueForResend(nil, 105*ms, rtt10); !res.PTO || len(got) != 2 {
		t.Fatalf("at 105ms: handed out %v, %+v; want the probe timeout", pnsOf(got), res)
	}
	r.checkBooks(t)
}

// TestSpuriousLoss: a packet declared lost and then acknowledged is
// reported as a spurious loss (with an RTT sample: its packet number was
// sent once), releases nothing (its bytes left at the loss), and its data
// is never sent again. An ACK of a probed packet is a late probe, not a
// spurious loss.
func TestSpuriousLoss(t *testing.T) {
	r := newRig(t, Config{})
	for pn := uint64(0); pn < 4; pn++ {
		r.send(t, pn, 1, 100, ms)
	}
	r.ack(t, 2*ms, rng(3, 3))
	if got, _ := r.t.DueForResend(nil, 2*ms, rtt10); len(got) != 1 || got[0].PN != 0 {
		t.Fatalf("handed out %+v", got)
	}
	res := r.ack(t, 7*ms, rng(0, 0))
	if res.AckedBytes != 0 || res.Spurious != 1 || res.SpuriousBytes != 100 || !res.RTTValid || res.LatestRTT != 6*time.Millisecond {
		t.Fatalf("late ACK of a lost packet: %+v", res)
	}
	if again := r.ack(t, 8*ms, rng(0, 0)); again.Spurious != 0 || again.AckEliciting {
		t.Fatalf("repeated ACK reported again: %+v", again)
	}
	if err := r.retransmit(0, 4, 100, 8*ms); !errors.Is(err, ErrAcked) || r.t.InFlight(4) {
		t.Fatalf("Retransmit after the late ACK: %v, want ErrAcked", err)
	}
	// Packets 1 and 2 are lost by the time threshold; the caller gives up
	// on them.
	if got, _ := r.t.DueForResend(nil, 20*ms, rtt10); len(got) != 2 {
		t.Fatalf("at 20ms: handed out %+v, want packets 1 and 2", got)
	}
	r.t.Abandon(1)
	r.t.Abandon(2)
	// Packets 5 and 6, above every acked one, go out as probes at the PTO;
	// an ACK of 5 is late.
	r.send(t, 5, 1, 100, 30*ms)
	r.send(t, 6, 1, 100, 30*ms)
	got, lr := r.t.DueForResend(nil, 100*ms, rtt10)
	if !lr.PTO || len(got) != 2 || !got[0].Probe || lr.ProbeBytes != 200 || lr.Lost != 0 {
		t.Fatalf("PTO: handed out %+v, %+v", got, lr)
	}
	if res := r.ack(t, 101*ms, rng(5, 5)); res.LateProbes != 1 || res.Spurious != 0 || res.AckedBytes != 0 {
		t.Fatalf("late ACK of a probed packet: %+v", res)
	}
	// Packet 6's probe is retransmitted; its original acked later is still
	// reported, once.
	if err := r.retransmit(6, 7, 100, 101*ms); err != nil {
		t.Fatal(err)
	}
	if res := r.ack(t, 102*ms, rng(6, 6)); res.LateProbes != 1 || res.AckedBytes != 0 {
		t.Fatalf("late ACK of a retransmitted probe: %+v", res)
	}
	if res := r.ack(t, 103*ms, rng(6, 6)); res.LateProbes != 0 || res.AckEliciting {
		t.Fatalf("repeated late ACK: %+v", res)
	}
	st := r.t.Stats()
	if st.Spurious != 1 || st.LateProbes != 2 || st.Lost != 3 || st.Probed != 2 || st.LostPending != 0 || st.InFlightPackets != 1 {
		t.Fatalf("stats %+v", st)
	}
	r.checkBooks(t)
}
