package congestion

import (
	"math"
	"testing"
)

// TestTimeoutAfterLossReducesSsthreshOnce: RFC 9002 Appendix B.8 reports
// the packets of a loss episode to the controller first (OnCongestionEvent:
// ssthresh = beta*cwnd) and then, if they establish persistent congestion,
// collapses the window (OnRetransmissionTimeout). The second call must set
// cwnd to the minimum without cutting ssthresh again: one reduction of
// ssthresh per loss episode (RFC 5681 section 3.1, equation 4 applies to a
// segment not yet retransmitted by the timer; RFC 9002 B.8 leaves ssthresh
// alone on persistent congestion). A further timeout with no ACK in between
// is the same episode too. Once an ACK of a packet sent after the episode
// began arrives, a new timeout is a new episode and does reduce ssthresh.
func TestTimeoutAfterLossReducesSsthreshOnce(t *testing.T) {
	type ctl struct {
		name     string
		setup    func(t *testing.T) (c Controller, s *sim, cwnd func() float64)
		ssthresh func(c Controller) float64
		beta     float64
	}
	tests := []ctl{
		{"cubic", func(t *testing.T) (Controller, *sim, func() float64) {
			c := newTestCubic(t, CubicConfig{DisableHyStart: true})
			s := newSim(t, c, 100*ms)
			s.run(10000, func() bool { return c.Window() >= 100*DefaultMaxDatagramSize })
			s.runFor(100 * ms)
			return c, s, func() float64 { return c.cwnd }
		}, func(c Controller) float64 { return c.(*Cubic).ssthresh }, cubicBeta},
		{"ledbat", func(t *testing.T) (Controller, *sim, func() float64) {
			c, s := ledbatInCA(t)
			s.runFor(10 * ms)
			return c, s, func() float64 { return c.cwnd }
		}, func(c Controller) float64 { return c.(*LEDBAT).ssthresh }, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s, cwnd := tc.setup(t)
			w := cwnd()
			s.lose() // OnCongestionEvent for the first lost packet
			want := tc.beta * w
			if got := tc.ssthresh(c); math.Abs(got-want) > 1 {
				t.Fatalf("ssthresh after the loss %.0f, want beta*cwnd = %.0f", got, want)
			}
			// The same lost packets establish persistent congestion.
			episode := s.now
			c.OnRetransmissionTimeout(s.now)
			if c.Window() != 2*DefaultMaxDatagramSize {
				t.Fatalf("window after persistent congestion %d, want the minimum", c.Window())
			}
			if got := tc.ssthresh(c); math.Abs(got-want) > 1 {
				t.Fatalf("persistent congestion after the loss cut ssthresh again: %.0f, want %.0f (one reduction per episode)", got, want)
			}
			// ACKs of packets sent before the episode began do not end it.
			for len(s.q) > 0 && !s.q[0].sent.After(episode) {
				s.ack()
			}
			s.now = s.now.Add(ms)
			c.OnRetransmissionTimeout(s.now)
			if got := tc.ssthresh(c); math.Abs(got-want) > 1 {
				t.Fatalf("a second timeout of the same episode cut ssthresh to %.0f, want %.0f", got, want)
			}
			// A packet sent after the episode is acknowledged: the episode is
			// over, and the next timeout is a new one that reduces ssthresh.
			s.run(100000, func() bool { return cwnd() >= 8*DefaultMaxDatagramSize })
			w = cwnd()
			s.now = s.now.Add(ms)
			c.OnRetransmissionTimeout(s.now)
			if got, want := tc.ssthresh(c), math.Max(tc.beta*w, 2*DefaultMaxDatagramSize); math.Abs(got-want) > 1 {
				t.Fatalf("timeout in a new episode: ssthresh %.0f, want beta*cwnd = %.0f", got, want)
			}
		})
	}
}
