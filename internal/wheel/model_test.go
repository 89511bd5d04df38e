package wheel

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// refWheel is the reference the wheel is checked against: a binary heap of
// armings ordered by due instant, with lazy deletion by generation. Its rule
// is the package contract stated naively: an arming that is pending when
// Advance(now) starts fires in it iff its deadline, rounded up to the tick
// grid, is <= the clock (the largest now seen, and at least start).
type refWheel struct {
	start, tick monotime.Time
	clock       monotime.Time
	timers      []refTimer
	h           refHeap
}

type refTimer struct {
	pending bool
	gen     uint64
	due     monotime.Time
}

type refEntry struct {
	due monotime.Time
	id  int
	gen uint64
}

type refHeap []refEntry

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h refHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.(refEntry)) }
func (h *refHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newRefWheel(start, tick monotime.Time, n int) *refWheel {
	return &refWheel{start: start, tick: tick, clock: start, timers: make([]refTimer, n)}
}

// roundUp returns the first tick boundary at or after d.
func (m *refWheel) roundUp(d monotime.Time) monotime.Time {
	if d <= m.start {
		return m.start
	}
	k := (d - m.start + m.tick - 1) / m.tick
	return m.start + k*m.tick
}

func (m *refWheel) arm(id int, d monotime.Time) {
	t := &m.timers[id]
	t.gen++
	t.pending = true
	t.due = m.roundUp(d)
	heap.Push(&m.h, refEntry{due: t.due, id: id, gen: t.gen})
}

func (m *refWheel) add(id int, d monotime.Time) bool {
	if m.timers[id].pending {
		return false
	}
	m.arm(id, d)
	return true
}

func (m *refWheel) reset(id int, d monotime.Time) bool {
	was := m.timers[id].pending
	m.arm(id, d)
	return was
}

func (m *refWheel) cancel(id int) bool {
	was := m.timers[id].pending
	m.timers[id].pending = false
	return was
}

// top drops stale heap entries and returns the earliest pending one.
func (m *refWheel) top() (refEntry, bool) {
	for len(m.h) > 0 {
		e := m.h[0]
		if t := m.timers[e.id]; t.pending && t.gen == e.gen {
			return e, true
		}
		heap.Pop(&m.h)
	}
	return refEntry{}, false
}

// advance returns the ids due at now, sorted, and disarms them.
func (m *refWheel) advance(now monotime.Time) []int {
	m.clock = max(m.clock, now)
	var fired []int
	for {
		e, ok := m.top()
		if !ok || e.due > m.clock {
			break
		}
		heap.Pop(&m.h)
		m.timers[e.id].pending = false
		fired = append(fired, e.id)
	}
	slices.Sort(fired)
	return fired
}

// source yields the random decisions of a test sequence.
type source interface {
	intn(n int) int
	u64() uint64
}

type rngSource struct{ r *rand.Rand }

func (s rngSource) intn(n int) int { return s.r.IntN(n) }
func (s rngSource) u64() uint64    { return s.r.Uint64() }

// byteSource reads decisions from fuzz input; exhausted reports the end.
type byteSource struct {
	data      []byte
	exhausted bool
}

func (s *byteSource) byte() byte {
	if len(s.data) == 0 {
		s.exhausted = true
		return 0
	}
	b := s.data[0]
	s.data = s.data[1:]
	return b
}

func (s *byteSource) intn(n int) int { return int(uint16(s.byte())|uint16(s.byte())<<8) % n }
func (s *byteSource) u64() uint64 {
	var v uint64
	for range 5 {
		v = v<<8 | uint64(s.byte())
	}
	return v
}

// modelRun drives a Wheel and a refWheel with the same operations and
// fails on the first disagreement: a return value of Add, Reset or Cancel,
// the set of timers fired by an Advance (and its count), Pending, Len, or a
// structural invariant. Timers with id%4 == 0 are periodic: their callback
// re-arms them at now+period(id), which the model mirrors.
type modelRun struct {
	tb     testing.TB
	w      *Wheel
	m      *refWheel
	timers []Timer
	fired  []int
	now    monotime.Time // the now of the Advance running
}

// modelTicks are the ticks the model runs with: small (so that big jumps
// stay far from int64 overflow), round and odd.
var modelTicks = []monotime.Time{1000, 1, 1499}

// period is the re-arm interval of periodic timer id.
func (r *modelRun) period(id int) monotime.Time { return monotime.Time(id/4) * 37 * r.m.tick }

func newModelRun(tb testing.TB, n, shards int, tick monotime.Time) *modelRun {
	const start = monotime.Time(1_000_003)
	w, err := New(start, Config{Tick: time.Duration(tick), Shards: shards})
	if err != nil {
		tb.Fatal(err)
	}
	r := &modelRun{tb: tb, w: w, m: newRefWheel(start, tick, n), timers: make([]Timer, n)}
	for i := range r.timers {
		r.timers[i].Init(w, func(now monotime.Time) {
			if now != r.now {
				tb.Fatalf("callback got now %d, Advance was given %d", now, r.now)
			}
			r.fired = append(r.fired, i)
			if i%4 == 0 {
				if w.Reset(&r.timers[i], now+r.period(i)) {
					tb.Fatalf("timer %d pending inside its own callback", i)
				}
			}
		})
	}
	return r
}

// deadline picks a deadline around the model's clock: near, at level
// boundaries (relative and absolute), far, in the past, or equal to a
// pending timer's.
func (r *modelRun) deadline(s source) monotime.Time {
	clock, tick := r.m.clock, r.m.tick
	clockTick := uint64((clock - r.m.start) / tick)
	var d monotime.Time
	switch s.intn(6) {
	case 0:
		d = clock + monotime.Time(s.intn(140)-4)*tick
	case 1:
		l := 1 + s.intn(numLevels+1)
		d = clock + monotime.Time(pow64(l)+uint64(s.intn(3))-1)*tick
	case 2:
		l := 1 + s.intn(numLevels+1)
		b := (clockTick/pow64(l) + 1 + uint64(s.intn(2))) * pow64(l)
		d = r.m.start + monotime.Time(b+uint64(s.intn(3))-1)*tick
	case 3:
		d = clock + monotime.Time(s.u64()%(1<<40))*tick
	case 4:
		d = clock - monotime.Time(s.intn(2000))*tick
	case 5:
		d = r.m.timers[s.intn(len(r.m.timers))].due
	}
	switch s.intn(3) {
	case 1:
		d--
	case 2:
		d -= monotime.Time(s.intn(int(tick)))
	}
	return d
}

// advanceTo picks the next now: a few ticks on, right around the next due
// timer, a jump over level boundaries, or backwards.
func (r *modelRun) advanceTo(s source) monotime.Time {
	clock, tick := r.m.clock, r.m.tick
	switch s.intn(5) {
	case 0:
		return clock + monotime.Time(s.intn(4))*tick + monotime.Time(s.intn(int(tick)))
	case 1:
		if e, ok := r.m.top(); ok {
			return e.due + monotime.Time(s.intn(3)-1)
		}
		return clock + tick
	case 2:
		return clock + monotime.Time(pow64(1+s.intn(numLevels+1)))*tick
	case 3:
		return clock - monotime.Time(s.intn(100))*tick
	default:
		clockTick := uint64((clock - r.m.start) / tick)
		p := pow64(1 + s.intn(numLevels))
		return r.m.start + monotime.Time((clockTick/p+1)*p)*tick + monotime.Time(s.intn(3)-1)
	}
}

func (r *modelRun) step(s source) {
	tb, w, m := r.tb, r.w, r.m
	id := s.intn(len(r.timers))
	t := &r.timers[id]
	switch op := s.intn(10); {
	case op < 3:
		d := r.deadline(s)
		if got, want := w.Add(t, d), m.add(id, d); got != want {
			tb.Fatalf("Add(%d, %d) = %v, model %v", id, d, got, want)
		}
	case op < 5:
		d := r.deadline(s)
		if got, want := w.Reset(t, d), m.reset(id, d); got != want {
			tb.Fatalf("Reset(%d, %d) = %v, model %v", id, d, got, want)
		}
	case op < 7:
		if got, want := w.Cancel(t), m.cancel(id); got != want {
			tb.Fatalf("Cancel(%d) = %v, model %v", id, got, want)
		}
	default:
		now := r.advanceTo(s)
		if now > 1<<61 {
			return // keep clear of int64 overflow
		}
		r.now, r.fired = now, r.fired[:0]
		n := w.Advance(now)
		want := m.advance(now)
		for _, i := range want {
			if i%4 == 0 {
				m.arm(i, now+r.period(i))
			}
		}
		slices.Sort(r.fired)
		if n != len(r.fired) || !slices.Equal(r.fired, want) {
			tb.Fatalf("Advance(%d) fired %v (returned %d), model %v", now, r.fired, n, want)
		}
		for i := range r.timers {
			if r.timers[i].Pending() != m.timers[i].pending {
				tb.Fatalf("after Advance(%d): timer %d Pending %v, model %v", now, i, r.timers[i].Pending(), m.timers[i].pending)
			}
		}
		checkInvariants(tb, w)
	}
}

func (r *modelRun) pendingCount() int {
	n := 0
	for _, t := range r.m.timers {
		if t.pending {
			n++
		}
	}
	return n
}

// TestAgainstReference runs random sequences of Add, Reset, Cancel and
// Advance against the heap reference: the same timers must fire in every
// Advance, so none fires early and none later than the first Advance whose
// now reaches its deadline rounded up to a tick.
func TestAgainstReference(t *testing.T) {
	for seed := range uint64(24) {
		shards := []int{1, 2, 8}[seed%3]
		tick := modelTicks[seed/3%3]
		t.Run(fmt.Sprintf("seed=%d/shards=%d/tick=%d", seed, shards, tick), func(t *testing.T) {
			r := newModelRun(t, 48, shards, tick)
			src := rngSource{rand.New(rand.NewPCG(seed, 0x5eed))}
			for range 3000 {
				r.step(src)
			}
			if w, m := r.w.Len(), r.pendingCount(); w != m {
				t.Fatalf("Len %d, model %d", w, m)
			}
		})
	}
}

// FuzzWheel is TestAgainstReference with the decisions taken from the
// fuzzer's input.
func FuzzWheel(f *testing.F) {
	fuzzseed.Add(f, []byte{0})
	fuzzseed.Add(f, []byte("\x01\x00\x00\x00\x00\x07\x00\x09\x00\x00\x03\x00\x01\x00\x09\x00\x01\x00"))
	r := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		seed := make([]byte, 600)
		for i := range seed {
			seed[i] = byte(r.Uint32())
		}
		fuzzseed.Add(f, seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &byteSource{data: data}
		shards := 1 + int(s.byte()%4)
		run := newModelRun(t, 16, shards, modelTicks[int(s.byte())%len(modelTicks)])
		for !s.exhausted {
			run.step(s)
		}
		if w, m := run.w.Len(), run.pendingCount(); w != m {
			t.Fatalf("Len %d, model %d", w, m)
		}
	})
}
