package congestion

import (
	"errors"
	"testing"
	"time"
)

func newTestFixedRate(t testing.TB, cfg FixedRateConfig) *FixedRate {
	t.Helper()
	c, err := NewFixedRate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFixedRateConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     FixedRateConfig
		wantErr bool
		window  uint64
	}{
		// 2 * 1 MB/s * 333 ms (no RTT sample yet) = 666000.
		{"rate only", FixedRateConfig{Rate: 1_000_000}, false, 666_000},
		{"fixed window", FixedRateConfig{Rate: 1_000_000, Window: 50_000}, false, 50_000},
		{"huge fixed window raises the max", FixedRateConfig{Rate: 1 << 30, Window: 1 << 40}, false, 1 << 40},
		{"tiny rate floors at min window", FixedRateConfig{Rate: 100}, false, 2400},
		{"no rate", FixedRateConfig{}, true, 0},
		{"window below min", FixedRateConfig{Rate: 1000, Window: 100}, true, 0},
		{"window above max", FixedRateConfig{Rate: 1000, Window: 1 << 20, MaxWindow: 1 << 16}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewFixedRate(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Window() != tt.window || c.PacingRate() != tt.cfg.Rate {
				t.Fatalf("window %d rate %d", c.Window(), c.PacingRate())
			}
		})
	}
}

// TestFixedRatePauseAndResume: a loss pauses the window at the flight at
// the loss plus the margin; the next ACK clears the pause; losses of the
// same flight do not pause again; a later loss does. The rate never moves.
func TestFixedRatePauseAndResume(t *testing.T) {
	const rate = 1_250_000 // 10 Mbit/s
	c := newTestFixedRate(t, FixedRateConfig{Rate: rate})
	rtt := NewRTT(0)
	rtt.Update(40*ms, 0)
	now := testStart.Add(ms)
	c.OnAck(now, testStart, 1200, 50_000, &rtt)
	normal := uint64(2 * rate * 40 / 1000) // 2 * Rate * 40 ms = 100000
	if c.Window() != normal || c.Paused() {
		t.Fatalf("window %d (want %d) paused %v", c.Window(), normal, c.Paused())
	}

	steps := []struct {
		name       string
		do         func()
		wantWindow uint64
		wantPaused bool
	}{
		{"loss pauses at flight+margin", func() {
			now = now.Add(ms)
			c.OnCongestionEvent(now, now.Add(-ms), 1200, 60_000)
		}, 60_000 + 2400, true},
		{"loss of the same flight ignored", func() {
			c.OnCongestionEvent(now.Add(ms), now.Add(-ms), 1200, 10_000)
		}, 60_000 + 2400, true},
		{"next ACK resumes", func() {
			c.OnAck(now.Add(2*ms), now.Add(-2*ms), 1200, 60_000, &rtt)
		}, normal, false},
		{"late loss of the old flight still ignored", func() {
			c.OnCongestionEvent(now.Add(3*ms), now, 1200, 50_000)
		}, normal, false},
		{"loss of a newer packet pauses again", func() {
			c.OnCongestionEvent(now.Add(4*ms), now.Add(ms), 1200, 30_000)
		}, 30_000 + 2400, true},
		{"ACK resumes again", func() {
			c.OnAck(now.Add(5*ms), now.Add(2*ms), 1200, 30_000, &rtt)
		}, normal, false},
		{"timeout pauses at the minimum", func() {
			c.OnRetransmissionTimeout(now.Add(6 * ms))
		}, 2400, true},
		{"ACK after the timeout resumes", func() {
			c.OnAck(now.Add(7*ms), now.Add(7*ms), 1200, 2400, &rtt)
		}, normal, false},
	}
	for _, st := range steps {
		st.do()
		if c.Window() != st.wantWindow || c.Paused() != st.wantPaused {
			t.Fatalf("%s: window %d paused %v, want %d %v", st.name, c.Window(), c.Paused(), st.wantWindow, st.wantPaused)
		}
		if c.PacingRate() != rate {
			t.Fatalf("%s: rate changed to %d", st.name, c.PacingRate())
		}
	}
	if st := c.Stats(); st.Pauses != 3 || st.IgnoredLosses != 2 || st.Timeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFixedRateWindowFollowsRTT: without a fixed Window the window is two
// bandwidth-delay products.
func TestFixedRateWindowFollowsRTT(t *testing.T) {
	c := newTestFixedRate(t, FixedRateConfig{Rate: 1_000_000, LossMargin: 5000})
	var rtt RTT
	for _, tt := range []struct {
		sample uint64 // ms
		want   uint64
	}{{100, 200_000}, {10, 20_000}} {
		rtt = NewRTT(0)
		rtt.Update(time.Duration(tt.sample)*ms, 0)
		c.OnAck(testStart, testStart, 1, 0, &rtt)
		if c.Window() != tt.want {
			t.Fatalf("RTT %dms: window %d, want %d", tt.sample, c.Window(), tt.want)
		}
	}
	c.OnCongestionEvent(testStart.Add(ms), testStart, 1, 7000)
	if c.Window() != 12000 {
		t.Fatalf("pause with LossMargin 5000: window %d, want 12000", c.Window())
	}
}

// TestFixedRatePauseSurvivesItsOwnACK: RFC 9002 Appendix A.7 processes an
// ACK frame by declaring losses first (OnPacketsLost) and then the newly
// acknowledged packets (OnPacketsAcked), with the same now. The ACK frame
// that revealed the loss is not "the next ACK": the pause must hold until
// an ACK processed after the loss was declared, whichever order the two
// reports of one frame come in.
func TestFixedRatePauseSurvivesItsOwnACK(t *testing.T) {
	const (
		rate   = 1_250_000
		normal = 2 * rate * 40 / 1000 // 2 * Rate * 40 ms = 100000
		paused = 60_000 + 2400        // flight at the loss + 2 datagrams
	)
	for _, lossFirst := range []bool{true, false} {
		c := newTestFixedRate(t, FixedRateConfig{Rate: rate})
		rtt := NewRTT(0)
		rtt.Update(40*ms, 0)
		now := testStart.Add(time.Second)
		// One ACK frame at now: it acknowledges a packet sent 40 ms ago and
		// reveals the loss of an older one.
		if lossFirst {
			c.OnCongestionEvent(now, now.Add(-50*ms), 1200, 60_000)
			c.OnAck(now, now.Add(-40*ms), 1200, 58_800, &rtt)
		} else {
			c.OnAck(now, now.Add(-40*ms), 1200, 61_200, &rtt)
			c.OnCongestionEvent(now, now.Add(-50*ms), 1200, 60_000)
		}
		if !c.Paused() || c.Window() != paused {
			t.Fatalf("loss first %v: after the ACK frame that revealed the loss: paused %v window %d, want true %d", lossFirst, c.Paused(), c.Window(), paused)
		}
		// The next ACK frame clears it.
		c.OnAck(now.Add(ms), now.Add(-39*ms), 1200, 57_600, &rtt)
		if c.Paused() || c.Window() != normal {
			t.Fatalf("loss first %v: next ACK left paused %v window %d, want false %d", lossFirst, c.Paused(), c.Window(), normal)
		}
	}
}
