package tracker

import (
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
					if !r.t.InFlight(g.PN) {
						t.Fatalf("handed-out packet %d left flight", g.PN)
					}
				}
				if res.PTO != st.probe || res.Abandoned != st.abandoned {
					t.Fatalf("step %d: %+v", i, res)
				}
				if st.next != 0 && res.Next != st.next {
					t.Fatalf("step %d: Next = %v, want %v", i, time.Duration(res.Next), time.Duration(st.next))
				}
			}
			r.checkBooks(t)
		})
	}
}

// TestRetransmitLifecycle follows one packet through MaxRetransmits
// resends to its abandonment, and checks a refreshed copy is judged by its
// own send time, not by its (old) packet number.
func TestRetransmitLifecycle(t *testing.T) {
	const maxRetx = 2
	r := newRig(t, Config{MaxRetransmits: maxRetx})
	for pn := uint64(0); pn < 4; pn++ {
		r.send(t, pn, 1, 100, ms)
	}
	r.ack(t, 2*ms, rng(1, 3))
	now := 3 * ms
	next := uint64(4)
	for gen := Generation(0); gen <= maxRetx; gen++ {
		got, res := r.t.DueForResend(nil, now, rtt10)
		if gen == maxRetx {
			if len(got) != 0 || res.Abandoned != 1 || res.AbandonedBytes != 100 || r.t.InFlight(0) {
				t.Fatalf("at MaxRetransmits: handed %v, %+v", pnsOf(got), res)
			}
			break
		}
		if len(got) != 1 || got[0].PN != 0 || got[0].Gen != gen {
			t.Fatalf("gen %d: handed out %+v", gen, got)
		}
		if !r.t.Refresh(0, gen, now) {
			t.Fatalf("Refresh(0, %d) failed", gen)
		}
		// The refreshed copy is newer than every acked packet: not lost,
		// however far the acked packet numbers run ahead.
		if again, _ := r.t.DueForResend(nil, now+ms, rtt10); len(again) != 0 {
			t.Fatalf("refreshed packet handed out again at once: %v", pnsOf(again))
		}
		// A later packet is acked; the copy is lost on the time threshold.
		r.send(t, next, 2, 10, now+ms)
		r.ack(t, now+2*ms, rng(next, next))
		next++
		now += 20 * ms
	}
	st := r.t.Stats()
	if st.Retransmits != maxRetx || st.Abandoned != 1 {
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

// TestCopyLostOnlyAfterLaterAck: a retransmitted copy is lost only if it
// was sent before an acknowledged packet (RFC 9002 section 6.1); however
// old it grows, with no acknowledged packet sent after it only the probe
// timeout may resend it. Once a packet sent after it is acknowledged, the
// time threshold applies.
func TestCopyLostOnlyAfterLaterAck(t *testing.T) {
	r := newRig(t, Config{})
	r.send(t, 0, 1, 100, ms)
	r.send(t, 1, 1, 100, ms)
	r.ack(t, 2*ms, rng(1, 1))
	if !r.t.Refresh(0, 0, 5*ms) {
		t.Fatal("Refresh failed")
	}
	// 25ms after the copy, far past the loss delay (11.25ms), but nothing
	// sent after the copy was acknowledged: wait for the PTO at 5 + 55ms.
	if got, res := r.t.DueForResend(nil, 30*ms, rtt10); len(got) != 0 || res.Lost != 0 || res.Next != 60*ms {
		t.Fatalf("at 30ms: handed out %v, %+v; want nothing, next at the PTO (60ms)", pnsOf(got), res)
	}
	r.send(t, 2, 1, 100, 31*ms)
	r.ack(t, 40*ms, rng(2, 2))
	if got, res := r.t.DueForResend(nil, 40*ms, rtt10); len(got) != 1 || got[0].PN != 0 || got[0].Gen != 1 || res.Lost != 1 {
		t.Fatalf("at 40ms, after the ack of a later packet: handed out %+v, %+v; want packet 0's copy lost", got, res)
	}
	r.checkBooks(t)
}
