package congestion

import (
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// hystartSim starts a CUBIC with HyStart++ on a 100 ms path and runs slow
// start until the window reaches 80 datagrams (several full rounds at the
// base RTT).
func hystartSim(t *testing.T) (*Cubic, *sim) {
	t.Helper()
	c := newTestCubic(t, CubicConfig{})
	s := newSim(t, c, 100*ms)
	s.run(100000, func() bool { return c.Window() >= 80*DefaultMaxDatagramSize })
	if !c.InSlowStart() || c.InCSS() {
		t.Fatalf("left standard slow start at a constant RTT: %+v", c.Stats())
	}
	return c, s
}

// runRounds runs the sim for n round trips of the given RTT (a HyStart++
// round is one RTT of ack-clocked sending here).
func (s *sim) runRounds(n int, rtt time.Duration) {
	s.runFor(time.Duration(n) * rtt)
}

// TestHyStartRTTIncreaseEntersCSS: with lastRoundMinRTT = 100 ms the
// threshold is max(4ms, min(100/8, 16ms)) = 12.5 ms (RFC 9406 section 4.2).
// A rise of 10 ms leaves slow start alone; a rise of 13 ms enters CSS.
func TestHyStartRTTIncreaseEntersCSS(t *testing.T) {
	tests := []struct {
		name    string
		rise    time.Duration
		wantCSS bool
	}{
		{"below threshold", 10 * ms, false},
		{"at threshold", 12500 * time.Microsecond, true},
		{"above threshold", 13 * ms, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := hystartSim(t)
			s.setRTT(100*ms + tt.rise)
			s.runRounds(3, 100*ms+tt.rise)
			if c.InCSS() != tt.wantCSS {
				t.Fatalf("InCSS = %v after a %v RTT rise, want %v (stats %+v)", c.InCSS(), tt.rise, tt.wantCSS, c.Stats())
			}
			if tt.wantCSS && c.hs.cssBaseline != 100*ms+tt.rise {
				t.Fatalf("cssBaselineMinRtt = %v, want the raised round minimum %v", c.hs.cssBaseline, 100*ms+tt.rise)
			}
			if !c.InSlowStart() {
				t.Fatal("left slow start altogether")
			}
		})
	}
}

// TestHyStartCSSThenCongestionAvoidance: CSS grows the window by a quarter
// of slow start's rate (CSS_GROWTH_DIVISOR = 4) and after CSS_ROUNDS = 5
// rounds enters congestion avoidance with ssthresh = cwnd (RFC 9406
// section 4.2).
func TestHyStartCSSThenCongestionAvoidance(t *testing.T) {
	c, s := hystartSim(t)
	const raised = 115 * ms
	s.setRTT(raised)
	s.run(100000, c.InCSS)
	entered := s.now

	// Measure one full CSS round: the window grows by about 1/4 of what it
	// was (slow start would double it).
	s.runFor(raised) // finish the round CSS began in
	w0 := float64(c.Window())
	s.runFor(raised)
	growth := float64(c.Window())/w0 - 1
	if !c.InCSS() || growth < 0.18 || growth > 0.32 {
		t.Fatalf("one CSS round grew the window by %.0f%% (InCSS %v), want ~25%%", 100*growth, c.InCSS())
	}

	s.run(100000, func() bool { return !c.InSlowStart() })
	rounds := float64(s.now.Sub(entered)) / float64(raised)
	// CSS_ROUNDS = 5, the partial round CSS began in counting as one
	// (RFC 9406 section 4.2): more than 4 rounds, at most 5.
	if rounds <= 4 || rounds > 5.05 {
		t.Fatalf("CSS lasted %.2f rounds, want at most CSS_ROUNDS = 5 including the partial round it began in", rounds)
	}
	if got := c.Stats(); got.HyStartExits != 1 || got.HyStartCSSEntries != 1 || got.CongestionEvents != 0 {
		t.Fatalf("stats %+v", got)
	}
	// ssthresh = cwnd at the exit; the exit ACK itself already counts for
	// congestion avoidance, which may add a few bytes.
	if ss, w := c.SlowStartThreshold(), c.Window(); ss > w || w-ss >= DefaultMaxDatagramSize {
		t.Fatalf("ssthresh %d, cwnd %d at the exit", ss, w)
	}
	// Congestion avoidance begins with W_max = cwnd and K = 0
	// (RFC 9438 section 4.10).
	s.ack()
	if c.epochStart == 0 || c.k != 0 {
		t.Fatalf("epoch %v K %v", c.epochStart, c.k)
	}
	// From now on growth is sub-linear: far below a doubling per round.
	w1 := float64(c.Window())
	s.runFor(raised)
	if g := float64(c.Window())/w1 - 1; g > 0.1 {
		t.Fatalf("congestion avoidance grew %.0f%% in a round", 100*g)
	}
}

// TestHyStartBackToSlowStart: in CSS, a round whose minimum RTT falls
// below cssBaselineMinRtt was a false positive; slow start resumes
// (RFC 9406 section 4.2).
func TestHyStartBackToSlowStart(t *testing.T) {
	c, s := hystartSim(t)
	s.setRTT(115 * ms)
	s.run(100000, c.InCSS)
	s.setRTT(100 * ms)
	s.run(100000, func() bool { return !c.InCSS() })
	if !c.InSlowStart() || c.Stats().HyStartExits != 0 {
		t.Fatalf("after the RTT fell: slow start %v, stats %+v", c.InSlowStart(), c.Stats())
	}
	// Standard slow start again: each round doubles the window (CSS
	// would grow it 1.25x per round, 1.56x over two).
	s.runFor(200 * ms)
	w0 := float64(c.Window())
	s.runFor(200 * ms)
	if g := float64(c.Window()) / w0; g < 2.5 {
		t.Fatalf("resumed slow start grew %.2fx in two rounds, want ~4x (CSS: 1.56x)", g)
	}
}

// TestHyStartLossEndsSlowStart: a loss in slow start or CSS goes straight
// to congestion avoidance, and HyStart++ does not run again.
func TestHyStartLossEndsSlowStart(t *testing.T) {
	c, s := hystartSim(t)
	s.setRTT(115 * ms)
	s.run(100000, c.InCSS)
	s.lose()
	if c.InSlowStart() || c.InCSS() || c.hs.state != hsDone {
		t.Fatalf("after a loss in CSS: slow start %v CSS %v", c.InSlowStart(), c.InCSS())
	}
	// After a timeout, the new slow start is standard (HyStart++ is for the
	// initial slow start only, RFC 9406 section 4.2).
	c.OnRetransmissionTimeout(s.now)
	s.setRTT(200 * ms)
	s.run(100000, func() bool { return !c.InSlowStart() })
	if c.Stats().HyStartCSSEntries != 1 {
		t.Fatalf("HyStart++ ran after the timeout: %+v", c.Stats())
	}
}

func TestHyStartDisabled(t *testing.T) {
	c := newTestCubic(t, CubicConfig{DisableHyStart: true})
	s := newSim(t, c, 100*ms)
	s.run(100000, func() bool { return c.Window() >= 40*DefaultMaxDatagramSize })
	s.setRTT(200 * ms)
	s.run(100000, func() bool { return c.Window() >= 400*DefaultMaxDatagramSize })
	if c.InCSS() || !c.InSlowStart() {
		t.Fatal("HyStart++ acted while disabled")
	}
}

// TestHyStartCSSRoundsIncludeEntryRound drives the detector directly with
// rounds of known extent and checks when CSS ends. RFC 9406 section 4.2:
// "CSS lasts at most CSS_ROUNDS rounds. If the transition into CSS happens
// in the middle of a round, that partial round counts towards the limit."
// So with CSS entered in round m, congestion avoidance begins when round
// m+CSS_ROUNDS-1 ends, at the 5th round boundary after the entry (FreeBSD's
// newreno/cubic: round_cnt - css_entered_at_round >= hystart_css_rounds).
//
// The driver sends batch k, then acknowledges batch k-1 in order, so a
// round (from the ACK of the last packet sent before it began) ends at the
// ACK of the last packet of each batch. The RTT rises from the last ACK of
// batch m-1 on, so every sample of round m is raised and CSS begins at its
// 8th sample (N_RTT_SAMPLE), in the middle of batch m.
func TestHyStartCSSRoundsIncludeEntryRound(t *testing.T) {
	const (
		perBatch = 16
		m        = 3 // the batch whose round enters CSS
		base     = 100 * ms
		raised   = 120 * ms // threshold at 100 ms is 12.5 ms
	)
	h := newHystart()
	rtt := NewRTT(0)
	now := testStart
	var batches [][]monotime.Time
	send := func() {
		var b []monotime.Time
		for range perBatch {
			now++
			h.onPacketSent(now)
			b = append(b, now)
		}
		batches = append(batches, b)
	}
	type at struct{ batch, i int }
	var entered, exited *at
	send()
	for k := 1; exited == nil && k < m+10; k++ {
		send()
		for i, sent := range batches[k-1] {
			sample := base
			if k-1 >= m || (k-1 == m-1 && i == perBatch-1) {
				sample = raised
			}
			rtt.Update(sample, 0)
			switch h.onAck(sent, &rtt) {
			case hsEnterCSS:
				entered = &at{k - 1, i}
			case hsExitToCA:
				exited = &at{k - 1, i}
			case hsResumeSS:
				t.Fatalf("resumed slow start at batch %d ack %d", k-1, i)
			}
			if exited != nil {
				break
			}
		}
	}
	if entered == nil || *entered != (at{m, hsNRTTSample - 2}) {
		t.Fatalf("entered CSS at %+v, want batch %d ack %d (the round's 8th sample)", entered, m, hsNRTTSample-2)
	}
	want := at{m + hsCSSRounds - 1, perBatch - 1}
	if exited == nil || *exited != want {
		t.Fatalf("left CSS at %+v, want %+v: the entry round is the first of CSS_ROUNDS = %d", exited, want, hsCSSRounds)
	}
}
