package congestion

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// controllerCase builds one controller of each kind with its limits.
type controllerCase struct {
	name     string
	new      func(testing.TB) Controller
	min, max uint64
}

var controllerCases = []controllerCase{
	{"cubic", func(t testing.TB) Controller { return newTestCubic(t, CubicConfig{}) }, 2400, 12_000_000},
	{"cubic-no-hystart", func(t testing.TB) Controller {
		return newTestCubic(t, CubicConfig{DisableHyStart: true, MaxWindow: 240_000})
	}, 2400, 240_000},
	{"ledbat", func(t testing.TB) Controller { return newTestLEDBAT(t, LEDBATConfig{}) }, 2400, 12_000_000},
	{"fixedrate", func(t testing.TB) Controller {
		return newTestFixedRate(t, FixedRateConfig{Rate: 10_000_000})
	}, 2400, 12_000_000},
}

// TestControllersOneReductionPerRecoveryPeriod: for every controller, the
// first loss changes the window; losses of packets sent at or before that
// moment change nothing; a loss of a packet sent after it acts again.
func TestControllersOneReductionPerRecoveryPeriod(t *testing.T) {
	for _, cc := range controllerCases {
		t.Run(cc.name, func(t *testing.T) {
			c := cc.new(t)
			s := newSim(t, c, 50*ms)
			s.runFor(time.Second)
			s.run(100000, func() bool { return s.inFlight >= 8*DefaultMaxDatagramSize })
			w0 := c.Window()
			s.lose()
			w1 := c.Window()
			if w1 == w0 {
				t.Fatalf("first loss left the window at %d", w0)
			}
			start := s.now
			// Every packet still in flight was sent before the loss.
			for len(s.q) > 1 && !s.q[0].sent.After(start) {
				p := s.q[0]
				s.q = s.q[1:]
				c.OnCongestionEvent(s.now, p.sent, p.size, s.inFlight)
				s.inFlight -= p.size
				if c.Window() != w1 {
					t.Fatalf("loss of a packet sent before the recovery start moved the window %d -> %d", w1, c.Window())
				}
			}
			// A packet sent after the recovery began: a new event.
			s.fill()
			s.now = s.now.Add(ms)
			sent := s.now
			c.OnPacketSent(sent, 1200, s.inFlight)
			s.now = s.now.Add(ms)
			before := c.Window()
			c.OnCongestionEvent(s.now, sent, 1200, before)
			if c.Window() == before && before != cc.min {
				t.Fatalf("loss in a new recovery period ignored (window %d)", before)
			}
		})
	}
}

// TestControllersAllocateNothing: the per-packet methods of every
// controller allocate nothing.
func TestControllersAllocateNothing(t *testing.T) {
	for _, cc := range controllerCases {
		t.Run(cc.name, func(t *testing.T) {
			c := cc.new(t)
			rtt := NewRTT(0)
			now := testStart
			n := testing.AllocsPerRun(1000, func() {
				now = now.Add(time.Millisecond)
				c.OnPacketSent(now, 1200, 6000)
				rtt.Update(40*ms, 0)
				c.OnAck(now.Add(40*ms), now, 1200, c.Window(), &rtt)
				c.OnCongestionEvent(now.Add(41*ms), now, 1200, 6000)
				_ = c.Window()
				_ = c.PacingRate()
			})
			if n != 0 {
				t.Fatalf("%s allocates %v per packet", cc.name, n)
			}
		})
	}
}

// checkController asserts the invariants every Controller keeps, on every
// output: the window within the documented [MinWindow, MaxWindow]
// (Controller.Window), the pacing rate positive (Controller.PacingRate) and
// finite (a NaN or an infinity converted to uint64 lands at 0 or at or
// above 2^63 on every GOARCH; no window over an RTT of at least 1 ns comes
// near 2^62 bytes/s), and every float of the state neither NaN nor
// infinite, save ssthresh, which is +Inf until the first congestion event
// (cubic.go, ledbat.go) and within the window's bounds after it; the
// windows in floats within the bounds too.
func checkController(t testing.TB, cc controllerCase, c Controller, step int) {
	t.Helper()
	w := c.Window()
	if w < cc.min || w > cc.max {
		t.Fatalf("%s step %d: window %d outside [%d, %d]", cc.name, step, w, cc.min, cc.max)
	}
	if r := c.PacingRate(); r == 0 || r > 1<<62 {
		t.Fatalf("%s step %d: pacing rate %d", cc.name, step, r)
	}
	type value struct {
		name     string
		v        float64
		posInf   bool // may be +Inf
		inWindow bool // within [min, max] when finite
	}
	var state []value
	switch c := c.(type) {
	case *Cubic:
		state = []value{
			{"cwnd", c.cwnd, false, true}, {"ssthresh", c.ssthresh, true, true},
			{"wMax", c.wMax, false, false}, {"k", c.k, false, false},
			{"wEst", c.wEst, false, false}, {"cwndPrior", c.cwndPrior, false, false},
		}
	case *LEDBAT:
		state = []value{{"cwnd", c.cwnd, false, true}, {"ssthresh", c.ssthresh, true, true}}
	case *FixedRate:
		state = []value{{"normal", c.normal, false, false}, {"pauseWin", c.pauseWin, false, false}}
	default:
		t.Fatalf("%s: controller %T has no state check", cc.name, c)
	}
	for _, s := range state {
		switch {
		case math.IsNaN(s.v), math.IsInf(s.v, -1), math.IsInf(s.v, 1) && !s.posInf:
			t.Fatalf("%s step %d: %s is %v", cc.name, step, s.name, s.v)
		case s.inWindow && !math.IsInf(s.v, 1) && (s.v < float64(cc.min) || s.v > float64(cc.max)):
			t.Fatalf("%s step %d: %s %v outside [%d, %d]", cc.name, step, s.name, s.v, cc.min, cc.max)
		}
	}
}

// driveController interprets data as a sequence of events: sends, ACKs of
// the oldest packet with an RTT from the input, losses, timeouts, idle
// gaps. The clock only moves forward; the bookkeeping of bytes in flight is
// exact, as a connection's would be.
func driveController(t testing.TB, cc controllerCase, data []byte) {
	c := cc.new(t)
	rtt := NewRTT(0)
	now := testStart
	type pkt struct {
		sent monotime.Time
		size uint64
	}
	var q []pkt
	var inFlight uint64
	for i := 0; i+3 <= len(data); i += 3 {
		op, a, b := data[i]%6, data[i+1], data[i+2]
		now = now.Add(time.Duration(a) * 100 * time.Microsecond)
		switch op {
		case 0, 1: // send up to the window (or one control packet beyond it)
			size := 100 + uint64(b)*5
			if inFlight+size <= c.Window() || op == 1 && len(q) < 4096 {
				c.OnPacketSent(now, size, inFlight)
				q = append(q, pkt{now, size})
				inFlight += size
			}
		case 2, 3: // ACK the oldest packets, RTT from b
			n := 1 + int(b%8)
			var acked uint64
			var last monotime.Time
			for ; n > 0 && len(q) > 0; n-- {
				acked += q[0].size
				last = q[0].sent
				q = q[1:]
			}
			if acked == 0 {
				continue
			}
			sample := time.Duration(1+int(b)) * time.Millisecond
			if now.Before(last.Add(sample)) {
				now = last.Add(sample)
			}
			rtt.Update(now.Sub(last), time.Duration(a)*100*time.Microsecond)
			rtt.ResetBackoff()
			c.OnAck(now, last, acked, inFlight, &rtt)
			inFlight -= acked
		case 4: // lose the oldest packet
			if len(q) == 0 {
				continue
			}
			c.OnCongestionEvent(now, q[0].sent, q[0].size, inFlight)
			inFlight -= q[0].size
			q = q[1:]
		case 5:
			if b%4 == 0 {
				rtt.OnTimeout()
				c.OnRetransmissionTimeout(now)
			} else {
				now = now.Add(time.Duration(b) * 10 * time.Millisecond) // idle
			}
		}
		checkController(t, cc, c, i/3)
	}
}

// FuzzController runs random event sequences through every controller:
// the window stays within [MinWindow, MaxWindow], the rate stays positive
// and finite, nothing turns NaN.
func FuzzController(f *testing.F) {
	for _, seed := range controllerSeeds() {
		fuzzseed.Add(f, seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1500 { // 500 events; longer inputs only slow minimization
			return
		}
		for _, cc := range controllerCases {
			driveController(t, cc, data)
		}
	})
}

// controllerSeeds are event sequences that reach every state: slow start,
// an ACK with a long RTT, losses, a timeout, idle gaps, and a long run of
// slow start, a queue building, losses and a timeout. They are the
// committed corpus (go test -run FuzzController -fuzzseeds writes it) and the inline seeds.
func controllerSeeds() [][]byte {
	long := make([]byte, 0, 600)
	for i := range 200 {
		op := byte(i % 4)
		if i%37 == 0 {
			op = 4
		}
		if i == 150 {
			op = 5
		}
		long = append(long, op, byte(i%7), byte(20+i/4))
	}
	var u [8]byte
	binary.LittleEndian.PutUint64(u[:], 0xdeadbeefcafef00d)
	return [][]byte{
		{0, 1, 1, 2, 20, 40, 0, 1, 1, 4, 0, 0, 2, 1, 50},
		{1, 0, 255, 1, 0, 255, 5, 0, 0, 2, 255, 255, 4, 0, 0, 4, 0, 0},
		long,
		u[:],
	}
}

// BenchmarkControllerOnAck measures the ACK path of each controller in
// steady state (congestion avoidance, no recovery), with 0 allocs/op.
func BenchmarkControllerOnAck(b *testing.B) {
	for _, cc := range controllerCases {
		b.Run(cc.name, func(b *testing.B) {
			c := cc.new(b)
			s := newSim(b, c, 20*ms)
			s.runFor(time.Second)
			s.lose() // out of slow start
			s.runFor(time.Second)
			rtt := s.rtt
			now := s.now
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(10 * time.Microsecond)
				c.OnAck(now, now.Add(-20*ms), 1200, c.Window(), &rtt)
			}
		})
	}
}

// TestControllersWindowConcurrentReaders: Window and PacingRate are read
// by writers' goroutines while the event loop drives the controller; under
// -race this proves the publication is atomic.
func TestControllersWindowConcurrentReaders(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, cc := range controllerCases {
		t.Run(cc.name, func(t *testing.T) {
			c := cc.new(t)
			s := newSim(t, c, 20*ms)
			done := make(chan struct{})
			var wg sync.WaitGroup
			var bad atomic.Uint64
			wg.Add(1)
			go func() { // a writer checking the window
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					if w := c.Window(); w < cc.min || w > cc.max || c.PacingRate() == 0 {
						bad.Store(w | 1)
					}
					runtime.Gosched() // share the two cores with the event loop
				}
			}()
			s.runFor(200 * ms)
			s.lose()
			s.runFor(200 * ms)
			close(done)
			wg.Wait()
			if b := bad.Load(); b != 0 {
				t.Fatalf("a reader saw window %d", b)
			}
		})
	}
}

// TestReserveWokenByControllerGrowth: a writer parked in FlightSize.Reserve
// against a controller's full window gets through once an ACK grows the
// window and the event loop calls Notify.
func TestReserveWokenByControllerGrowth(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		c := newTestCubic(t, CubicConfig{})
		var f FlightSize
		f.Add(c.Window()) // window full
		errc := make(chan error, 1)
		go func() { errc <- f.Reserve(context.Background(), 1200, c, time.Time{}) }()
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Reserve returned with a full window: %v", err)
		default:
		}
		// The ACK of one packet: slow start grows the window by 1200, and
		// the released packet frees 1200 more.
		rtt := NewRTT(0)
		rtt.Update(30*ms, 0)
		c.OnAck(testStart.Add(30*ms), testStart, 1200, f.Load(), &rtt)
		f.Notify()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if got, want := f.Load(), uint64(12000+1200); got != want || c.Window() != 13200 {
			t.Fatalf("in flight %d (want %d), window %d", got, want, c.Window())
		}
	})
}

// TestWindowLimitsDefaultInitialWithinBounds: an InitialWindow left zero
// takes the RFC 9002 section 7.2 default brought within the configured
// [MinWindow, MaxWindow]; only an explicit InitialWindow outside them is an
// error. Before, a MaxWindow below 12000 or a MinWindow above it was
// rejected for an "InitialWindow 12000" nobody set (and FixedRate, which has
// no InitialWindow field, could not be built with such bounds at all).
func TestWindowLimitsDefaultInitialWithinBounds(t *testing.T) {
	tests := []struct {
		name   string
		build  func() (Controller, error)
		window uint64
	}{
		{"cubic small max", func() (Controller, error) { return NewCubic(CubicConfig{MaxWindow: 6000}) }, 6000},
		{"cubic large min", func() (Controller, error) { return NewCubic(CubicConfig{MinWindow: 20000}) }, 20000},
		{"ledbat small max", func() (Controller, error) { return NewLEDBAT(LEDBATConfig{MaxWindow: 6000}) }, 6000},
		{"ledbat large min", func() (Controller, error) { return NewLEDBAT(LEDBATConfig{MinWindow: 20000}) }, 20000},
		// FixedRate's window is 2 * Rate * InitialRTT within the bounds.
		{"fixedrate small max", func() (Controller, error) {
			return NewFixedRate(FixedRateConfig{Rate: 1_000_000, MaxWindow: 6000})
		}, 6000},
		{"fixedrate large min", func() (Controller, error) {
			return NewFixedRate(FixedRateConfig{Rate: 10_000, MinWindow: 20000})
		}, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.build()
			if err != nil {
				t.Fatalf("valid bounds rejected: %v", err)
			}
			if c.Window() != tt.window {
				t.Fatalf("window %d, want %d", c.Window(), tt.window)
			}
		})
	}
	// An explicit InitialWindow outside the bounds is still an error.
	if _, err := NewCubic(CubicConfig{MaxWindow: 6000, InitialWindow: 12000}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("explicit InitialWindow above MaxWindow: err = %v", err)
	}
}
