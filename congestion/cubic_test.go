package congestion

import (
	"errors"
	"math"
	"testing"
	"time"
)

const mssF = float64(DefaultMaxDatagramSize)

func newTestCubic(t testing.TB, cfg CubicConfig) *Cubic {
	t.Helper()
	c, err := NewCubic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCubicConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     CubicConfig
		wantErr bool
		window  uint64
		rate    uint64 // 1.25*window/333ms, worked out by hand
	}{
		{"zero value", CubicConfig{}, false, 12000, 45045}, // min(10*1200, max(14720, 2400)); 15000/0.333
		{"jumbo datagrams", CubicConfig{MaxDatagramSize: 9000}, false, 18000, 67567},
		{"explicit initial", CubicConfig{InitialWindow: 100 * 1200}, false, 120000, 450450},
		{"initial below min", CubicConfig{InitialWindow: 1200}, true, 0, 0},
		{"max below min", CubicConfig{MaxWindow: 1000}, true, 0, 0},
		{"min below a datagram", CubicConfig{MinWindow: 100}, true, 0, 0},
		{"datagram too big", CubicConfig{MaxDatagramSize: 1 << 20}, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCubic(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Window() != tt.window || !c.InSlowStart() || c.SlowStartThreshold() != math.MaxUint64 {
				t.Fatalf("window %d slow start %v ssthresh %d", c.Window(), c.InSlowStart(), c.SlowStartThreshold())
			}
			// Before any RTT sample the rate is 1.25*cwnd/333ms (RFC 9002 section 7.7).
			if c.PacingRate() != tt.rate {
				t.Fatalf("pacing rate %d, want %d", c.PacingRate(), tt.rate)
			}
		})
	}
}

// TestCubicKAndCurve checks K and W_cubic(t) of RFC 9438 section 4.2 on
// the example of a loss at W_max = 100 datagrams: cwnd_epoch = 70,
// K = cbrt((100-70)/0.4) = cbrt(75) = 4.2172 s.
func TestCubicKAndCurve(t *testing.T) {
	c := newTestCubic(t, CubicConfig{})
	c.wMax = 100 * mssF
	c.k = cubicK(100*mssF, 70*mssF, mssF)
	if math.Abs(c.k-4.217163326508746) > 1e-9 {
		t.Fatalf("K = %v, want 4.2171633", c.k)
	}
	tests := []struct {
		t    float64 // seconds
		want float64 // datagrams, from 0.4*(t-K)^3 + 100
	}{
		{0, 70},                 // the curve starts at the reduced window
		{1, 86.68076383512988},  // concave: fast at first
		{2, 95.64033568663878},  // slowing towards W_max
		{c.k, 100},              // plateau at W_max
		{6, 102.26670325646442}, // convex: probing beyond
		{10, 100 + 0.4*math.Pow(10-4.217163326508746, 3)},
	}
	for _, tt := range tests {
		if got := c.wCubic(tt.t) / mssF; math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("W_cubic(%.4f) = %.9f datagrams, want %.9f", tt.t, got, tt.want)
		}
	}
}

// lossAt100 drives a CUBIC (no HyStart++) in slow start to 100 datagrams
// over a path of the given RTT and has one packet lost.
func lossAt100(t *testing.T, rtt time.Duration) (*Cubic, *sim) {
	t.Helper()
	c := newTestCubic(t, CubicConfig{DisableHyStart: true})
	s := newSim(t, c, rtt)
	s.run(10000, func() bool { return c.Window() >= 100*DefaultMaxDatagramSize })
	c.cwnd = 100 * mssF // exactly, for round numbers
	c.publish(c.cwnd, c.srtt)
	s.lose()
	return c, s
}

func TestCubicWindowAfterLoss(t *testing.T) {
	c, s := lossAt100(t, 100*ms)
	// RFC 9438 section 4.6: ssthresh = cwnd = 0.7 * 100 datagrams; first
	// loss: W_max = 100 (no fast convergence without a previous W_max).
	if got := packets(c.Window()); got != 70 {
		t.Fatalf("window after loss %v datagrams, want 70", got)
	}
	if got := c.SlowStartThreshold(); got != 70*DefaultMaxDatagramSize || c.InSlowStart() {
		t.Fatalf("ssthresh %d, slow start %v", got, c.InSlowStart())
	}
	if c.wMax != 100*mssF || c.cwndPrior != 100*mssF {
		t.Fatalf("W_max %v cwnd_prior %v datagrams", c.wMax/mssF, c.cwndPrior/mssF)
	}
	// Second loss below W_max: fast convergence (section 4.7) sets
	// W_max = 90 * (1+0.7)/2 = 76.5, and cwnd = 0.7*90 = 63.
	s.run(100000, func() bool { return c.Window() >= 90*DefaultMaxDatagramSize && c.epochStart != 0 })
	c.cwnd = 90 * mssF
	s.now = s.now.Add(time.Second) // a new recovery period
	c.OnCongestionEvent(s.now, s.now, 1200, s.inFlight)
	if math.Abs(c.wMax/mssF-76.5) > 1e-9 || math.Abs(c.cwnd/mssF-63) > 1e-9 {
		t.Fatalf("fast convergence: W_max %v cwnd %v datagrams, want 76.5 63", c.wMax/mssF, c.cwnd/mssF)
	}
	if st := c.Stats(); st.CongestionEvents != 2 {
		t.Fatalf("stats %+v", st)
	}

	nf := newTestCubic(t, CubicConfig{DisableFastConvergence: true, DisableHyStart: true})
	nf.ssthresh, nf.cwnd, nf.wMax = 0, 90*mssF, 100*mssF
	nf.OnCongestionEvent(s.now, s.now, 1200, 0)
	if nf.wMax != 90*mssF {
		t.Fatalf("without fast convergence W_max = %v datagrams, want 90", nf.wMax/mssF)
	}
}

// TestCubicRecoveryCurve follows the window after a loss at 100 datagrams
// on a 100 ms path: it tracks W_cubic(t) (RFC 9438 section 4.2), since the
// Reno-friendly estimate (~0.53 datagram per RTT) stays below the curve.
func TestCubicRecoveryCurve(t *testing.T) {
	c, s := lossAt100(t, 100*ms)
	s.run(10000, func() bool { return c.epochStart != 0 })
	if c.k != cubicK(100*mssF, 70*mssF, mssF) {
		t.Fatalf("K = %v at epoch start", c.k)
	}
	epoch := c.epochStart
	k := 4.217163326508746
	for _, at := range []float64{0.5, 1, 2, 3, 4.2, 5, 6} {
		s.run(1_000_000, func() bool { return s.now.Sub(epoch).Seconds() >= at })
		tt := s.now.Sub(epoch).Seconds()
		want := 0.4*math.Pow(tt-k, 3) + 100
		got := packets(c.Window())
		// The window aims at W_cubic one RTT ahead and reaches it over that
		// RTT, so it sits between W_cubic(t) and W_cubic(t+RTT) (plus a
		// datagram of rounding).
		ahead := 0.4*math.Pow(tt+0.1-k, 3) + 100
		if got < want-1 || got > ahead+1 {
			t.Errorf("t=%.2fs: window %.2f datagrams, want within [W_cubic(t)=%.2f, W_cubic(t+RTT)=%.2f]", tt, got, want, ahead)
		}
	}
}

// TestCubicRenoFriendly: on a short path the Reno estimate W_est grows by
// α_cubic = 3(1-β)/(1+β) ≈ 0.53 datagram per RTT (RFC 9438 section 4.3),
// faster than the curve, and the window follows it.
func TestCubicRenoFriendly(t *testing.T) {
	c, s := lossAt100(t, 10*ms)
	s.run(10000, func() bool { return c.epochStart != 0 })
	epoch := c.epochStart
	s.runFor(200 * ms) // 20 RTTs
	rtts := s.now.Sub(epoch).Seconds() / 0.010
	want := 70 + cubicAlpha*rtts
	got := packets(c.Window())
	if math.Abs(got-want) > 1.5 {
		t.Fatalf("after %.1f RTTs window %.2f datagrams, want W_est ≈ %.2f", rtts, got, want)
	}
	if curve := c.wCubic(s.now.Sub(epoch).Seconds()) / mssF; curve >= got {
		t.Fatalf("W_cubic %.2f not below the window %.2f: not the Reno-friendly region", curve, got)
	}
}

// TestCubicOneReductionPerRecoveryPeriod: losses of packets sent before the
// recovery period began do not reduce the window again (RFC 9002 section
// 7.3.2), and ACKs of those packets do not grow it.
func TestCubicOneReductionPerRecoveryPeriod(t *testing.T) {
	c, s := lossAt100(t, 100*ms)
	start := c.recovery.start
	w := c.Window()
	for range 10 { // the rest of the flight is lost too
		s.lose()
	}
	if c.Window() != w || c.Stats().IgnoredLosses != 10 || c.Stats().CongestionEvents != 1 {
		t.Fatalf("window %d (want %d), stats %+v", c.Window(), w, c.Stats())
	}
	// ACKs of packets sent before the loss: no growth.
	for len(s.q) > 0 && !s.q[0].sent.After(start) {
		s.ack()
		if c.Window() != w {
			t.Fatalf("window grew to %d inside the recovery period", c.Window())
		}
	}
	// A packet sent after the recovery began is lost: a new reduction.
	s.lose()
	if got := packets(c.Window()); math.Abs(got-49) > 1.0/mssF {
		t.Fatalf("second reduction: %v datagrams, want 49", got)
	}
}

func TestCubicRetransmissionTimeout(t *testing.T) {
	c, s := lossAt100(t, 100*ms)
	s.run(100000, func() bool { return c.epochStart != 0 && c.Window() >= 80*DefaultMaxDatagramSize })
	w := c.cwnd
	c.OnRetransmissionTimeout(s.now)
	// RFC 9438 section 4.8: cwnd to the minimum, ssthresh = 0.7*cwnd.
	if c.Window() != 2*DefaultMaxDatagramSize || c.SlowStartThreshold() != uint64(w*cubicBeta) {
		t.Fatalf("after timeout: window %d ssthresh %d (cwnd was %.0f)", c.Window(), c.SlowStartThreshold(), w)
	}
	if !c.InSlowStart() || c.Stats().Timeouts != 1 {
		t.Fatal("not slow-starting after a timeout")
	}
	// Losses of the collapsed flight do not cut ssthresh again.
	ss := c.SlowStartThreshold()
	for range 5 {
		s.lose()
	}
	if c.SlowStartThreshold() != ss {
		t.Fatalf("late losses cut ssthresh to %d", c.SlowStartThreshold())
	}
	// Slow start back to ssthresh, then the curve with W_max = cwnd, K = 0.
	s.run(100000, func() bool { return !c.InSlowStart() && c.epochStart != 0 })
	if c.k != 0 {
		t.Fatalf("after timeout the epoch has K = %v, want 0", c.k)
	}
}

func TestCubicAppLimitedDoesNotGrow(t *testing.T) {
	c := newTestCubic(t, CubicConfig{})
	rtt := NewRTT(0)
	rtt.Update(50*ms, 0)
	now := testStart
	w := c.Window()
	for i := range 100 {
		now = now.Add(ms)
		// One packet in flight against a 10-packet window: app-limited.
		c.OnPacketSent(now, 1200, 0)
		c.OnAck(now.Add(50*ms), now, 1200, 1200, &rtt)
		if c.Window() != w {
			t.Fatalf("ack %d grew an unused window to %d", i, c.Window())
		}
	}
}

// TestCubicIdleDoesNotCountInEpoch: time spent idle or application-limited
// is not part of t in W_cubic(t) (RFC 9438 section 5.8), so the first ACKs
// after a pause do not jump the window up the curve.
func TestCubicIdleDoesNotCountInEpoch(t *testing.T) {
	tests := []struct {
		name  string
		pause func(c *Cubic, s *sim, d time.Duration)
	}{
		{"idle: nothing in flight", func(c *Cubic, s *sim, d time.Duration) {
			s.now = s.now.Add(d)
		}},
		{"application-limited: one packet at a time", func(c *Cubic, s *sim, d time.Duration) {
			end := s.now.Add(d)
			for s.now.Before(end) {
				s.now = s.now.Add(100 * ms)
				c.OnPacketSent(s.now, 1200, s.inFlight)
				s.rtt.Update(100*ms, 0)
				c.OnAck(s.now.Add(100*ms), s.now, 1200, s.inFlight+1200, &s.rtt)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := lossAt100(t, 100*ms)
			s.run(10000, func() bool { return c.epochStart != 0 })
			s.runFor(time.Second)
			for len(s.q) > 0 { // the application stops writing: drain
				p := s.q[0]
				s.q = s.q[1:]
				s.now = max(s.now, p.ackAt)
				s.rtt.Update(s.now.Sub(p.sent), 0)
				c.OnAck(s.now, p.sent, p.size, s.inFlight, &s.rtt)
				s.inFlight -= p.size
			}
			epoch := c.epochStart
			before := c.Window()
			tt.pause(c, s, 10*time.Second)
			if c.Window() != before {
				t.Fatalf("window moved during the pause: %d -> %d", before, c.Window())
			}
			s.fill()
			s.ack()
			// Ten seconds later on the raw clock, W_cubic would be ~1.5x
			// the window; with the pause excluded the window barely moves.
			if got := packets(c.Window()) - packets(before); got > 1 {
				t.Fatalf("first ACK after a 10s pause grew the window by %.2f datagrams", got)
			}
			if shift := c.epochStart.Sub(epoch); shift < 9*time.Second {
				t.Fatalf("epoch moved by %v, want ~10s", shift)
			}
		})
	}
}
