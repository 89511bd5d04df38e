package congestion

import (
	"testing"
	"time"
)

const ms = time.Millisecond

func TestRTTInitialState(t *testing.T) {
	r := NewRTT(0)
	if r.HasSample() || r.Samples() != 0 || r.LatestRTT() != 0 || r.MinRTT() != 0 {
		t.Fatalf("fresh estimator has a sample: %+v", r)
	}
	// RFC 9002 section 6.2.2: smoothed_rtt = kInitialRtt, rttvar = kInitialRtt/2.
	if r.SmoothedRTT() != 333*ms || r.RTTVar() != 166500*time.Microsecond {
		t.Fatalf("smoothed %v rttvar %v, want 333ms 166.5ms", r.SmoothedRTT(), r.RTTVar())
	}
	if r.MaxAckDelay() != DefaultMaxAckDelay {
		t.Fatalf("max_ack_delay %v, want %v", r.MaxAckDelay(), DefaultMaxAckDelay)
	}
	// 333 + max(4*166.5, 1) + 25 = 1024 ms.
	if got := r.PTO(); got != 1024*ms {
		t.Fatalf("initial PTO %v, want 1.024s", got)
	}
	if neg := NewRTT(-time.Second); neg.MaxAckDelay() != 0 {
		got := neg.MaxAckDelay()
		t.Fatalf("negative max_ack_delay kept as %v", got)
	}
}

// TestRTTWorkedExample steps the estimator through RFC 9002 section 5.3 by
// hand, with max_ack_delay 25 ms. Values are exact nanoseconds (integer
// division truncates where the real value has a fraction).
func TestRTTWorkedExample(t *testing.T) {
	r := NewRTT(25 * ms)
	steps := []struct {
		name                string
		latest, ackDelay    time.Duration
		min, smoothed, rvar time.Duration
		pto                 time.Duration
		wantSampleAccepted  bool
	}{
		// First sample: ack delay ignored; smoothed = latest, rttvar = latest/2.
		{"first sample", 100 * ms, 10 * ms, 100 * ms, 100 * ms, 50 * ms, (100 + 200 + 25) * ms, true},
		// 120 >= min+ack_delay (110): adjusted = 110. rttvar = (3*50+|100-110|)/4 = 40;
		// smoothed = (7*100+110)/8 = 101.25.
		{"ack delay subtracted", 120 * ms, 10 * ms, 100 * ms, 101250 * time.Microsecond, 40 * ms,
			101250*time.Microsecond + 160*ms + 25*ms, true},
		// 105 < min+ack_delay (110): the delay would take the sample below
		// min_rtt, so adjusted = 105. rttvar = (3*40+3.75)/4 = 30.9375;
		// smoothed = (7*101.25+105)/8 = 101.71875.
		{"ack delay not below min_rtt", 105 * ms, 10 * ms, 100 * ms, 101718750, 30937500,
			101718750 + 4*30937500 + 25*ms, true},
		// New minimum 90; ack delay 50 capped to 25; 90 < 90+25 so adjusted = 90.
		// rttvar = (3*30.9375+11.71875)/4 = 26.1328125 -> 26132812 ns;
		// smoothed = (7*101.71875+90)/8 = 100.25390625 -> 100253906 ns.
		{"new min_rtt", 90 * ms, 50 * ms, 90 * ms, 100253906, 26132812,
			100253906 + 4*26132812 + 25*ms, true},
		// Ack delay 50 capped to max_ack_delay 25: adjusted = 175, not 150.
		// rttvar = (3*26132812+|100253906-175000000|)/4 = 38286132;
		// smoothed = (7*100253906+175000000)/8 = 109597167.
		{"ack delay capped by max_ack_delay", 200 * ms, 50 * ms, 90 * ms, 109597167, 38286132,
			109597167 + 4*38286132 + 25*ms, true},
		// A non-positive sample is ignored and changes nothing.
		{"zero sample ignored", 0, 0, 90 * ms, 109597167, 38286132,
			109597167 + 4*38286132 + 25*ms, false},
	}
	for i, st := range steps {
		if got := r.Update(st.latest, st.ackDelay); got != st.wantSampleAccepted {
			t.Fatalf("step %d %q: Update returned %v", i, st.name, got)
		}
		if r.MinRTT() != st.min || r.SmoothedRTT() != st.smoothed || r.RTTVar() != st.rvar {
			t.Fatalf("step %d %q: min %d smoothed %d rttvar %d; want %d %d %d", i, st.name,
				r.MinRTT(), r.SmoothedRTT(), r.RTTVar(), st.min, st.smoothed, st.rvar)
		}
		if r.PTO() != st.pto {
			t.Fatalf("step %d %q: PTO %d, want %d", i, st.name, r.PTO(), st.pto)
		}
	}
	if r.Samples() != 5 || r.LatestRTT() != 200*ms {
		t.Fatalf("samples %d latest %v", r.Samples(), r.LatestRTT())
	}
}

func TestRTTPTOFloorIsGranularity(t *testing.T) {
	r := NewRTT(-1) // a peer that never delays ACKs
	r.Update(10*time.Microsecond, 0)
	for range 50 {
		r.Update(10*time.Microsecond, 0) // rttvar decays towards 0
	}
	// smoothed 10us + max(4*rttvar, 1ms) + 0.
	if got, want := r.PTO(), 10*time.Microsecond+Granularity; got != want {
		t.Fatalf("PTO %v, want %v (kGranularity floor)", got, want)
	}
}

// ptoExpiry stands in for the tracker's PTO handling: one timer expiry
// declares a batch of packets lost and is ONE timeout event.
func ptoExpiry(r *RTT, lostPackets int) (declared int) {
	for range lostPackets {
		declared++ // each packet is marked lost, retransmitted, ...
	}
	r.OnTimeout() // ... but the backoff doubles once for the event
	return declared
}

func TestRTTBackoffOncePerTimeoutEvent(t *testing.T) {
	r := NewRTT(25 * ms)
	r.Update(100*ms, 0) // PTO = 100 + 200 + 25 = 325 ms
	base := r.PTO()
	if base != 325*ms {
		t.Fatalf("base PTO %v", base)
	}
	tests := []struct {
		name    string
		events  []int // lost packets per timeout event
		wantExp uint32
	}{
		{"one event, ten lost packets", []int{10}, 1},
		{"two events", []int{10, 10}, 2},
		{"three events of one packet", []int{1, 1, 1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := r // copy: RTT is a value
			for _, n := range tt.events {
				ptoExpiry(&r, n)
			}
			if r.PTOCount() != tt.wantExp {
				t.Fatalf("pto_count %d, want %d", r.PTOCount(), tt.wantExp)
			}
			if got, want := r.PTO(), base<<tt.wantExp; got != want {
				t.Fatalf("PTO %v, want %v", got, want)
			}
			// An ACK of new data resets the backoff.
			r.ResetBackoff()
			if r.PTO() != base || r.PTOCount() != 0 {
				t.Fatalf("after reset: PTO %v count %d", r.PTO(), r.PTOCount())
			}
		})
	}
}

func TestRTTPTOCappedAtMaxPTO(t *testing.T) {
	r := NewRTT(0)
	for range 100 { // 2^100 would overflow any Duration
		r.OnTimeout()
	}
	if got := r.PTO(); got != MaxPTO {
		t.Fatalf("PTO after 100 timeouts %v, want %v", got, MaxPTO)
	}
	if r.PTOCount() != 100 {
		t.Fatalf("pto_count %d, want 100", r.PTOCount())
	}
}

func TestRTTDerivedDurations(t *testing.T) {
	r := NewRTT(25 * ms)
	r.Update(80*ms, 0)  // smoothed 80, rttvar 40
	r.Update(120*ms, 0) // rttvar (120+40)/4 = 40, smoothed (560+120)/8 = 85
	if r.SmoothedRTT() != 85*ms || r.RTTVar() != 40*ms {
		t.Fatalf("smoothed %v rttvar %v", r.SmoothedRTT(), r.RTTVar())
	}
	// RFC 9002 section 6.1.2: 9/8 * max(smoothed 85, latest 120) = 135 ms.
	if got := r.LossDelay(); got != 135*ms {
		t.Fatalf("LossDelay %v, want 135ms", got)
	}
	// RFC 9002 section 7.6.1: (85 + 160 + 25) * 3 = 810 ms.
	if got := r.PersistentCongestionDuration(); got != 810*ms {
		t.Fatalf("PersistentCongestionDuration %v, want 810ms", got)
	}
	// min_rtt falls back to the newest sample after persistent congestion.
	if r.MinRTT() != 80*ms {
		t.Fatalf("min %v", r.MinRTT())
	}
	r.OnPersistentCongestion()
	if r.MinRTT() != 120*ms {
		t.Fatalf("min after persistent congestion %v, want 120ms", r.MinRTT())
	}
	r.SetMaxAckDelay(5 * ms)
	if r.PTO() != (85+160+5)*ms {
		t.Fatalf("PTO after SetMaxAckDelay %v", r.PTO())
	}
	r2 := NewRTT(0)
	if !r2.UpdateAt(testStart.Add(30*ms), testStart, 0) || r2.LatestRTT() != 30*ms {
		t.Fatalf("UpdateAt: latest %v", r2.LatestRTT())
	}
}

func TestRTTAllocs(t *testing.T) {
	r := NewRTT(0)
	if n := testing.AllocsPerRun(1000, func() {
		r.Update(50*ms, 5*ms)
		r.OnTimeout()
		_ = r.PTO()
		r.ResetBackoff()
	}); n != 0 {
		t.Fatalf("RTT allocates %v per run", n)
	}
}
