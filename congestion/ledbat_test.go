package congestion

import (
	"errors"
	"math"
	"testing"
	"time"
)

func newTestLEDBAT(t testing.TB, cfg LEDBATConfig) *LEDBAT {
	t.Helper()
	c, err := NewLEDBAT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLEDBATConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LEDBATConfig
		wantErr bool
		target  time.Duration
	}{
		{"zero value", LEDBATConfig{}, false, 60 * ms},
		{"custom target", LEDBATConfig{Target: 25 * ms}, false, 25 * ms},
		{"target too small", LEDBATConfig{Target: time.Microsecond}, true, 0},
		{"negative target", LEDBATConfig{Target: -ms}, true, 0},
		{"bad window", LEDBATConfig{MinWindow: 1}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewLEDBAT(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Target() != tt.target || c.Window() != 12000 {
				t.Fatalf("target %v window %d", c.Target(), c.Window())
			}
		})
	}
}

// TestLEDBATGain checks GAIN = 1/min(16, ceil(2*TARGET/base_delay)) with
// TARGET = 60 ms.
func TestLEDBATGain(t *testing.T) {
	tests := []struct {
		base time.Duration // 0: no sample
		want float64
	}{
		{0, 1.0 / 16},
		{5 * ms, 1.0 / 16}, // ceil(24) capped at 16
		{20 * ms, 1.0 / 6}, // ceil(6)
		{50 * ms, 1.0 / 3}, // ceil(2.4)
		{60 * ms, 1.0 / 2}, // ceil(2)
		{200 * ms, 1},      // ceil(0.6) = 1
	}
	for _, tt := range tests {
		c := newTestLEDBAT(t, LEDBATConfig{})
		if tt.base > 0 {
			c.addSample(testStart, tt.base)
		}
		if got := c.Gain(); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("base %v: gain %v, want %v", tt.base, got, tt.want)
		}
	}
}

// TestLEDBATModifiedSlowStart: slow start grows by GAIN per acked byte and
// ends once the queuing delay passes 3/4 of the target (45 ms).
func TestLEDBATModifiedSlowStart(t *testing.T) {
	c := newTestLEDBAT(t, LEDBATConfig{})
	rtt := NewRTT(0)
	rtt.Update(20*ms, 0)
	c.OnAck(testStart.Add(20*ms), testStart, 1200, 12000, &rtt)
	if got, want := c.Window(), uint64(12000+1200/6); got != want {
		t.Fatalf("window after one ACK %d, want %d (GAIN 1/6 per byte)", got, want)
	}

	tests := []struct {
		name     string
		rise     time.Duration
		wantExit bool
	}{
		{"queuing delay 40ms stays", 40 * ms, false},
		{"queuing delay 50ms exits", 50 * ms, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestLEDBAT(t, LEDBATConfig{})
			s := newSim(t, c, 20*ms)
			s.run(100000, func() bool { return c.Window() >= 40*DefaultMaxDatagramSize })
			s.setRTT(20*ms + tt.rise)
			s.runFor(200 * ms)
			exited := c.phase != ledbatSlowStart
			if exited != tt.wantExit {
				t.Fatalf("queuing delay %v: exited %v, want %v", c.QueuingDelay(), exited, tt.wantExit)
			}
			if exited && (c.NextSlowdown() == 0 && c.Stats().Slowdowns == 0 || math.IsInf(c.ssthresh, 1)) {
				t.Fatalf("exit did not schedule the first slowdown / set ssthresh")
			}
		})
	}
}

// ledbatInCA runs a LEDBAT++ on a 20 ms path out of slow start (by a
// queuing-delay bump) and back to an empty queue.
func ledbatInCA(t *testing.T) (*LEDBAT, *sim) {
	t.Helper()
	c := newTestLEDBAT(t, LEDBATConfig{})
	s := newSim(t, c, 20*ms)
	s.run(100000, func() bool { return c.Window() >= 40*DefaultMaxDatagramSize })
	s.setRTT(70 * ms)
	s.run(100000, func() bool { return c.phase == ledbatCA })
	s.setRTT(20 * ms)
	return c, s
}

// TestLEDBATPeriodicSlowdown: 2 RTTs after the initial slow start the
// window drops to 2 datagrams for 2 RTTs, ramps back to where it was with
// slow start, and the next slowdown is scheduled 9 slowdown durations later.
func TestLEDBATPeriodicSlowdown(t *testing.T) {
	c, s := ledbatInCA(t)
	exit := s.now
	due := c.NextSlowdown()
	if d := due.Sub(exit); d != 2*c.srtt {
		t.Fatalf("first slowdown due %v after the exit, want 2 RTTs (%v)", d, 2*c.srtt)
	}
	s.run(100000, c.InSlowdown)
	start := s.now
	if start.Before(due) || c.Stats().Slowdowns != 1 {
		t.Fatalf("slowdown at %v, due %v", start.Sub(testStart), due.Sub(testStart))
	}
	before := c.ssthresh
	freeze := 2 * c.srtt
	// Freeze: 2 datagrams for 2 RTTs, whatever the ACKs say.
	s.run(100000, func() bool {
		if s.now.Sub(start) < freeze && c.Window() != 2*DefaultMaxDatagramSize {
			t.Fatalf("window %d during the freeze", c.Window())
		}
		return s.now.Sub(start) >= freeze
	})
	// Ramp back to the window before the slowdown, then CA again.
	s.run(1000000, func() bool { return c.phase == ledbatCA })
	end := s.now
	if got := float64(c.Window()); math.Abs(got-before) > 1 {
		t.Fatalf("ramp ended at %v bytes, want the pre-slowdown %v", got, before)
	}
	if got, want := c.NextSlowdown(), end.Add(9*end.Sub(start)); got != want {
		t.Fatalf("next slowdown at %v, want end + 9*duration = %v", got.Sub(testStart), want.Sub(testStart))
	}
	// The slowdown drained the queue: base delay is the path's 20 ms.
	if c.BaseDelay() != 20*ms {
		t.Fatalf("base delay %v", c.BaseDelay())
	}
	// And it comes around again.
	s.run(10000000, func() bool { return c.Stats().Slowdowns == 2 })
}

// TestLEDBATDecreaseAboveTarget checks one ACK of the multiplicative
// decrease W += max(GAIN - W*(delay/target - 1), -W/2) per RTT, i.e.
// (GAIN*MSS - W*(qd/target - 1))*acked/W per ACK, capped at -acked/2.
func TestLEDBATDecreaseAboveTarget(t *testing.T) {
	tests := []struct {
		name string
		qd   time.Duration
	}{
		{"moderate excess", 90 * ms},
		{"cap at W/2 per RTT", 200 * ms},
		{"below target grows", 30 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := ledbatInCA(t)
			s.runFor(10 * ms) // settle at an empty queue
			now := s.now
			if !now.Before(c.NextSlowdown()) {
				t.Fatal("slowdown due: pick an earlier instant")
			}
			// Fill the current-delay filter with base+qd.
			rtt := s.rtt
			for range ledbatCurrentFilter - 1 {
				rtt.Update(20*ms+tt.qd, 0)
				c.addSample(now, rtt.LatestRTT())
				c.lastSamples = rtt.Samples()
			}
			rtt.Update(20*ms+tt.qd, 0)
			w := float64(c.Window())
			c.OnAck(now, now, 1200, c.Window(), &rtt)
			if c.QueuingDelay() != tt.qd || c.BaseDelay() != 20*ms {
				t.Fatalf("qd %v base %v", c.QueuingDelay(), c.BaseDelay())
			}
			gain := 1.0 / 6
			var want float64
			if tt.qd <= 60*ms {
				want = w + gain*1200*1200/w
			} else {
				delta := (gain*1200 - w*(float64(tt.qd)/float64(60*ms)-1)) * 1200 / w
				want = w + math.Max(delta, -600)
			}
			if got := float64(c.Window()); math.Abs(got-want) > 1 {
				t.Fatalf("window %v -> %v, want %v", w, got, want)
			}
		})
	}
}

func TestLEDBATLossOncePerRecoveryPeriod(t *testing.T) {
	c, s := ledbatInCA(t)
	s.runFor(10 * ms)
	w := c.Window()
	s.lose()
	if got := c.Window(); got != w/2 && got != w/2+1 && got != w/2-1 {
		t.Fatalf("window after loss %d, want half of %d", got, w)
	}
	half := c.Window()
	for range 5 {
		s.lose() // the same flight
	}
	if c.Window() != half || c.Stats().CongestionEvents != 1 || c.Stats().IgnoredLosses != 5 {
		t.Fatalf("window %d stats %+v", c.Window(), c.Stats())
	}
	c.OnRetransmissionTimeout(s.now)
	if c.Window() != 2*DefaultMaxDatagramSize || c.phase != ledbatSlowStart {
		t.Fatalf("after timeout window %d phase %d", c.Window(), c.phase)
	}
}
