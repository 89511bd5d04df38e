package wheel

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

const testTick = time.Millisecond

// testStart is an arbitrary, non-tick-aligned start instant.
const testStart monotime.Time = 7_777_777_123

// at returns the instant k ticks after testStart.
func at(k uint64) monotime.Time { return testStart + monotime.Time(k)*monotime.Time(testTick) }

func newTestWheel(tb testing.TB, shards int) *Wheel {
	tb.Helper()
	w, err := New(testStart, Config{Tick: testTick, Shards: shards})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// counter is an owner with an embedded Timer that records its firings.
type counter struct {
	Timer
	fires []monotime.Time
}

func newCounter(w *Wheel) *counter {
	c := &counter{}
	c.Init(w, c.fire)
	return c
}

func (c *counter) fire(now monotime.Time) { c.fires = append(c.fires, now) }

func pow64(l int) uint64 { return 1 << (slotBits * l) }

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name       string
		start      monotime.Time // if negative, used instead of testStart
		cfg        Config
		wantErr    bool
		wantTick   time.Duration
		wantShards int
	}{
		{name: "zero", cfg: Config{Shards: 3}, wantTick: DefaultTick, wantShards: 4},
		{name: "one shard", cfg: Config{Tick: 10 * time.Microsecond, Shards: 1}, wantTick: 10 * time.Microsecond, wantShards: 1},
		{name: "max shards", cfg: Config{Shards: maxShards}, wantTick: DefaultTick, wantShards: maxShards},
		{name: "negative tick", cfg: Config{Tick: -1}, wantErr: true},
		{name: "negative start", start: -1, wantErr: true},
		{name: "negative shards", cfg: Config{Shards: -1}, wantErr: true},
		{name: "too many shards", cfg: Config{Shards: maxShards + 1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := testStart
			if tc.start < 0 {
				start = tc.start
			}
			w, err := New(start, tc.cfg)
			if tc.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.Tick() != tc.wantTick || len(w.shards) != tc.wantShards {
				t.Fatalf("tick %v shards %d, want %v %d", w.Tick(), len(w.shards), tc.wantTick, tc.wantShards)
			}
		})
	}
	w, err := New(testStart, Config{})
	if err != nil || len(w.shards) == 0 || len(w.shards)&(len(w.shards)-1) != 0 {
		t.Fatalf("default shards %d, err %v", len(w.shards), err)
	}
}

// boundaryDelays are the delays, in ticks, at and around every level
// boundary, up to and beyond the top level.
func boundaryDelays() []uint64 {
	ks := []uint64{1, 2, 63, 64, 65}
	for l := 2; l <= numLevels+1; l++ {
		ks = append(ks, pow64(l)-1, pow64(l), pow64(l)+1)
	}
	return append(ks, 3*pow64(numLevels)+7, 1<<40)
}

// TestFiresAtLevelBoundaries arms one timer at every boundary delay, from
// several starting positions of the wheel, and advances through every level
// boundary (cascade point) before its deadline: it must not fire before
// the deadline and must fire exactly at it.
func TestFiresAtLevelBoundaries(t *testing.T) {
	origins := []uint64{0, 37, pow64(3) - 5, pow64(numLevels) - 3, 5*pow64(numLevels) + 12345}
	for _, origin := range origins {
		for _, k := range boundaryDelays() {
			for _, sub := range []monotime.Time{0, 1, monotime.Time(testTick) / 2} {
				t.Run(fmt.Sprintf("origin=%d/delay=%d/minus=%dns", origin, k, sub), func(t *testing.T) {
					w := newTestWheel(t, 1)
					w.Advance(at(origin))
					c := newCounter(w)
					// A deadline sub ns before the tick boundary rounds up to it.
					due := at(origin + k)
					if !w.Add(&c.Timer, due-sub) {
						t.Fatal("Add of an idle timer returned false")
					}
					checkInvariants(t, w)
					for _, cp := range checkpoints(origin, origin+k) {
						if n := w.Advance(cp); n != 0 || len(c.fires) != 0 {
							t.Fatalf("fired at %d, %d ns before the deadline", cp, due-cp)
						}
						checkInvariants(t, w)
					}
					if n := w.Advance(due - 1); n != 0 {
						t.Fatal("fired 1 ns before the rounded deadline")
					}
					if n := w.Advance(due); n != 1 || len(c.fires) != 1 || c.fires[0] != due {
						t.Fatalf("Advance(deadline) fired %d, fires %v", n, c.fires)
					}
					if c.Pending() || w.Len() != 0 {
						t.Fatal("timer still pending after firing")
					}
					if n := w.Advance(due + monotime.Time(pow64(2))*monotime.Time(testTick)); n != 0 {
						t.Fatal("fired twice")
					}
					checkInvariants(t, w)
				})
			}
		}
	}
}

// checkpoints returns instants strictly between ticks from and due: the
// first and last multiple of 64^l in that range for every level, and the
// tick before due.
func checkpoints(from, due uint64) []monotime.Time {
	var ticks []uint64
	for l := 1; l <= numLevels+1; l++ {
		p := pow64(l)
		if first := (from/p + 1) * p; first < due {
			ticks = append(ticks, first)
		}
		if last := (due - 1) / p * p; last > from {
			ticks = append(ticks, last)
		}
	}
	if due-1 > from {
		ticks = append(ticks, due-1)
	}
	slices.Sort(ticks)
	ticks = slices.Compact(ticks)
	out := make([]monotime.Time, len(ticks))
	for i, k := range ticks {
		out[i] = at(k)
	}
	return out
}

// TestTickByTick advances one tick at a time through the first two levels:
// every timer fires in exactly the Advance of its tick.
func TestTickByTick(t *testing.T) {
	for _, origin := range []uint64{0, 50} {
		t.Run(fmt.Sprintf("origin=%d", origin), func(t *testing.T) {
			w := newTestWheel(t, 2)
			w.Advance(at(origin))
			const n = 64*64 + 2
			timers := make([]*counter, n)
			for k := range timers {
				timers[k] = newCounter(w)
				w.Add(&timers[k].Timer, at(origin+uint64(k)+1))
			}
			for k := range uint64(n) {
				now := at(origin + k + 1)
				if got := w.Advance(now); got != 1 {
					t.Fatalf("tick %d fired %d timers, want 1", k+1, got)
				}
				if c := timers[k]; len(c.fires) != 1 || c.fires[0] != now {
					t.Fatalf("timer %d fired %v, want once at %d", k, c.fires, now)
				}
			}
			checkInvariants(t, w)
		})
	}
}

func TestCancel(t *testing.T) {
	w := newTestWheel(t, 4)
	c := newCounter(w)
	if w.Cancel(&c.Timer) {
		t.Fatal("Cancel of a never-armed timer returned true")
	}
	w.Add(&c.Timer, at(10))
	if !w.Cancel(&c.Timer) {
		t.Fatal("Cancel of a pending timer returned false")
	}
	if w.Cancel(&c.Timer) || c.Pending() {
		t.Fatal("second Cancel returned true, or timer still pending")
	}
	if n := w.Advance(at(1000)); n != 0 || len(c.fires) != 0 {
		t.Fatal("cancelled timer fired")
	}
	w.Add(&c.Timer, at(1001))
	w.Advance(at(1001))
	if len(c.fires) != 1 {
		t.Fatal("re-armed timer did not fire")
	}
	if w.Cancel(&c.Timer) {
		t.Fatal("Cancel after firing returned true")
	}
	checkInvariants(t, w)
}

func TestAddKeepsPendingDeadline(t *testing.T) {
	w := newTestWheel(t, 1)
	c := newCounter(w)
	if !w.Add(&c.Timer, at(10)) || w.Add(&c.Timer, at(5)) || w.Add(&c.Timer, at(20)) {
		t.Fatal("Add must arm an idle timer and refuse a pending one")
	}
	w.Advance(at(9))
	if w.Advance(at(10)); len(c.fires) != 1 {
		t.Fatalf("fires %v, want one at tick 10", c.fires)
	}
	if w.Advance(at(30)); len(c.fires) != 1 {
		t.Fatal("refused Add armed a second deadline")
	}
}

func TestReset(t *testing.T) {
	tests := []struct {
		name      string
		first     uint64 // tick of the first arming, 0 for none
		advance   uint64 // advance to this tick before Reset
		reset     uint64 // tick Reset moves it to
		wantStop  bool
		wantFires int // fires before the Reset
	}{
		{name: "never armed", reset: 10, wantStop: false},
		{name: "earlier", first: 100, reset: 10, wantStop: true},
		{name: "later", first: 10, reset: 100, wantStop: true},
		{name: "across levels", first: 5000, advance: 4000, reset: 300000, wantStop: true},
		{name: "after firing", first: 10, advance: 20, reset: 50, wantStop: false, wantFires: 1},
		{name: "to the past", first: 10, advance: 5, reset: 1, wantStop: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWheel(t, 1)
			c := newCounter(w)
			if tc.first != 0 {
				w.Add(&c.Timer, at(tc.first))
			}
			w.Advance(at(tc.advance))
			if len(c.fires) != tc.wantFires {
				t.Fatalf("fires before Reset %d, want %d", len(c.fires), tc.wantFires)
			}
			if got := w.Reset(&c.Timer, at(tc.reset)); got != tc.wantStop {
				t.Fatalf("Reset = %v, want %v", got, tc.wantStop)
			}
			checkInvariants(t, w)
			due := max(tc.reset, tc.advance) // a past deadline fires at the next Advance
			if tc.reset > tc.advance {
				w.Advance(at(due - 1))
				if len(c.fires) != tc.wantFires {
					t.Fatal("fired before the new deadline")
				}
			}
			w.Advance(at(due))
			if len(c.fires) != tc.wantFires+1 || c.fires[tc.wantFires] != at(due) {
				t.Fatalf("fires %v, want one more at tick %d", c.fires, due)
			}
			w.Advance(at(1 << 20))
			if len(c.fires) != tc.wantFires+1 {
				t.Fatal("old arming fired after Reset")
			}
		})
	}
}

// periodic re-arms its own timer from its callback.
type periodic struct {
	Timer
	w      *Wheel
	period monotime.Time
	fires  []monotime.Time
}

func (p *periodic) fire(now monotime.Time) {
	p.fires = append(p.fires, now)
	if p.w.Reset(&p.Timer, now+p.period) {
		panic("Reset from its own callback found the timer pending")
	}
}

func TestPeriodicSelfReset(t *testing.T) {
	for _, period := range []uint64{0, 1, 7, 64, 100} {
		t.Run(fmt.Sprintf("period=%d", period), func(t *testing.T) {
			w := newTestWheel(t, 2)
			p := &periodic{w: w, period: monotime.Time(period) * monotime.Time(testTick)}
			p.Init(w, p.fire)
			w.Add(&p.Timer, at(1))
			const ticks = 1000
			for k := uint64(1); k <= ticks; k++ {
				fired := w.Advance(at(k))
				// Period 0 re-arms at now: due, but fires in the next Advance, once.
				want := 0
				if period == 0 || (k-1)%period == 0 {
					want = 1
				}
				if fired != want {
					t.Fatalf("tick %d fired %d, want %d", k, fired, want)
				}
			}
			checkInvariants(t, w)
			if !w.Cancel(&p.Timer) {
				t.Fatal("periodic timer not pending at the end")
			}
		})
	}
}

func TestPastDeadlineFiresAtNextAdvance(t *testing.T) {
	w := newTestWheel(t, 1)
	w.Advance(at(100))
	before, now := newCounter(w), newCounter(w)
	w.Add(&before.Timer, testStart-12345) // before the wheel's start
	w.Add(&now.Timer, at(100))
	checkInvariants(t, w)
	// The clock does not move (and even goes back): overdue timers still fire.
	if n := w.Advance(at(50)); n != 2 {
		t.Fatalf("fired %d overdue timers, want 2", n)
	}
	if before.fires[0] != at(50) || now.fires[0] != at(50) {
		t.Fatal("callbacks did not get Advance's now")
	}
}

func TestMisusePanics(t *testing.T) {
	w := newTestWheel(t, 1)
	other := newTestWheel(t, 1)
	pending := newCounter(w)
	w.Add(&pending.Timer, at(5))
	tests := []struct {
		name string
		f    func()
	}{
		{"Add before Init", func() { w.Add(&Timer{}, at(1)) }},
		{"Cancel before Init", func() { w.Cancel(&Timer{}) }},
		{"Reset with another wheel", func() { other.Reset(&pending.Timer, at(1)) }},
		{"Init nil callback", func() { new(Timer).Init(w, nil) }},
		{"Init nil wheel", func() { new(Timer).Init(nil, func(monotime.Time) {}) }},
		{"Init while pending", func() { pending.Init(w, pending.fire) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			tc.f()
		})
	}
	checkInvariants(t, w)
}
