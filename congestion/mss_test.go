package congestion

import (
	"testing"
	"time"
)

// TestSetMaxDatagramSize: the windows are in bytes and follow the datagram
// size path MTU discovery settles on (RFC 9002 section 7.2): the initial
// window, a window still at it, the minimum and the default maximum are
// counted in datagrams of the new size; a grown window keeps its bytes.
func TestSetMaxDatagramSize(t *testing.T) {
	mk := map[string]func() Controller{
		"cubic":  func() Controller { c, _ := NewCubic(CubicConfig{}); return c },
		"ledbat": func() Controller { c, _ := NewLEDBAT(LEDBATConfig{}); return c },
	}
	for name, newC := range mk {
		t.Run(name, func(t *testing.T) {
			c := newC()
			if got := c.Window(); got != 12000 {
				t.Fatalf("initial window %d, want 12000 (10*1200)", got)
			}
			c.SetMaxDatagramSize(1452)
			if got := c.Window(); got != 14520 {
				t.Fatalf("initial window at 1452 bytes: %d, want 14520 (min(10*1452, max(14720, 2*1452)))", got)
			}
			c.SetMaxDatagramSize(0) // ignored
			if got := c.Window(); got != 14520 {
				t.Fatalf("size 0 changed the window to %d", got)
			}
			// Collapse to the minimum: 2 datagrams of the current size.
			c.OnRetransmissionTimeout(testStart)
			if got := c.Window(); got != 2*1452 {
				t.Fatalf("minimum window %d, want %d", got, 2*1452)
			}
			c.SetMaxDatagramSize(1200) // a black hole: back to the base size
			if got := c.Window(); got != 2*1200 {
				t.Fatalf("minimum window after the fallback %d, want %d", got, 2*1200)
			}
		})
	}
	t.Run("cubic grown window keeps its bytes, grows by the new size", func(t *testing.T) {
		grow := func(mss uint64) float64 {
			c := newTestCubic(t, CubicConfig{DisableHyStart: true})
			s := newSim(t, c, 50*time.Millisecond)
			s.run(10000, func() bool { return c.Window() >= 100*DefaultMaxDatagramSize })
			c.cwnd = 100 * mssF
			c.publish(c.cwnd, c.srtt)
			s.lose() // into congestion avoidance at 70 datagrams of 1200
			w := c.cwnd
			c.SetMaxDatagramSize(mss)
			if c.cwnd != w {
				t.Fatalf("mss %d: a grown window changed from %v to %v bytes", mss, w, c.cwnd)
			}
			s.mss = mss
			acks := 0
			s.run(201, func() bool { acks++; return acks > 200 })
			return c.cwnd - w
		}
		small, big := grow(1200), grow(2400)
		// CUBIC's C and α are in datagrams: twice the size, about twice
		// the bytes of growth over the same ACKs and time.
		if r := big / small; r < 1.5 {
			t.Fatalf("growth at 2400-byte datagrams %.0f B, at 1200 %.0f B: ratio %.2f, want about 2", big, small, r)
		}
	})
	t.Run("initial window in packets", func(t *testing.T) {
		c := newTestCubic(t, CubicConfig{InitialWindowPackets: 32})
		if got := c.Window(); got != 32*1200 {
			t.Fatalf("IW %d, want %d", got, 32*1200)
		}
		c.SetMaxDatagramSize(1452)
		if got := c.Window(); got != 32*1452 {
			t.Fatalf("IW at 1452 %d, want %d", got, 32*1452)
		}
	})
	t.Run("pacer burst", func(t *testing.T) {
		c := newTestCubic(t, CubicConfig{})
		p, err := NewPacer(c, PacerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		p.SetMaxDatagramSize(1452)
		if got := p.MaxBurst(1); got != 10*1452 {
			t.Fatalf("burst %d, want %d", got, 10*1452)
		}
	})
}
