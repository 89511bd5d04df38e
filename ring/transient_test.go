package ring

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// t0 is the fake clock's start: the wheel's tick 0.
const t0 = monotime.Time(time.Second)

type fixture struct {
	w     *wheel.Wheel
	m     *TransientManager[int]
	slots []Slot[int]
}

func newFixture(t testing.TB, n int, cfg TransientConfig[int]) *fixture {
	t.Helper()
	w, err := wheel.New(t0, wheel.Config{Tick: time.Millisecond, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Wheel = w
	m, err := NewTransientManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{w: w, m: m, slots: make([]Slot[int], n)}
	for i := range f.slots {
		m.InitSlot(&f.slots[i], i)
	}
	return f
}

func (f *fixture) transientSlots() int {
	n := 0
	for i := range f.slots {
		if f.slots[i].IsTransient() {
			n++
		}
	}
	return n
}

func TestTransientConfig(t *testing.T) {
	w, err := wheel.New(t0, wheel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cfg    TransientConfig[int]
		ttl    time.Duration
		budget int
		err    bool
	}{
		{"defaults", TransientConfig[int]{Wheel: w}, 30 * time.Second, 2048, false},
		{"explicit", TransientConfig[int]{Wheel: w, TTL: time.Second, Budget: 7}, time.Second, 7, false},
		{"no wheel", TransientConfig[int]{}, 0, 0, true},
		{"negative budget", TransientConfig[int]{Wheel: w, Budget: -1}, 0, 0, true},
		{"negative ttl", TransientConfig[int]{Wheel: w, TTL: -time.Second}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewTransientManager(tc.cfg)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if m.TTL() != tc.ttl || m.Budget() != tc.budget {
				t.Fatalf("TTL %v Budget %d, want %v %d", m.TTL(), m.Budget(), tc.ttl, tc.budget)
			}
			if m.Established().Min() != 25 || m.Established().Max() != 200 {
				t.Fatal("default established set has wrong targets")
			}
		})
	}
}

// TestTransientTransitions runs scripted operation sequences on a budget of
// 2 and an established set of at most 1, checking every result, state and
// count against hand-derived expectations.
func TestTransientTransitions(t *testing.T) {
	type step struct {
		op    string // reserve, promote, drop
		slot  int
		want  any // bool for reserve, error for promote, State for drop
		state State
		count int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"reserve promote", []step{
			{"reserve", 0, true, StateTransient, 1},
			{"promote", 0, nil, StateEstablished, 0},
			{"promote", 0, nil, StateEstablished, 0}, // idempotent
			{"reserve", 0, false, StateEstablished, 0},
			{"drop", 0, StateEstablished, StateNone, 0},
		}},
		{"duplicate reservation", []step{
			{"reserve", 0, true, StateTransient, 1},
			{"reserve", 0, true, StateTransient, 1},
			{"drop", 0, StateTransient, StateNone, 0},
			{"drop", 0, StateNone, StateNone, 0}, // idempotent
		}},
		{"promote without reservation", []step{
			{"promote", 0, ErrNotTransient, StateNone, 0},
		}},
		{"budget exhausted", []step{
			{"reserve", 0, true, StateTransient, 1},
			{"reserve", 1, true, StateTransient, 2},
			{"reserve", 2, false, StateNone, 2},
			{"drop", 1, StateTransient, StateNone, 1},
			{"reserve", 2, true, StateTransient, 2},
		}},
		{"established full", []step{
			{"reserve", 0, true, StateTransient, 1},
			{"reserve", 1, true, StateTransient, 2},
			{"promote", 0, nil, StateEstablished, 1},
			{"promote", 1, ErrEstablishedFull, StateTransient, 1},
			{"drop", 0, StateEstablished, StateNone, 1},
			{"promote", 1, nil, StateEstablished, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			est := mustEstablished[int](t, EstablishedConfig{Min: 1, Max: 1})
			f := newFixture(t, 3, TransientConfig[int]{Budget: 2, Established: est})
			for i, st := range tc.steps {
				s := &f.slots[st.slot]
				var got any
				switch st.op {
				case "reserve":
					got = f.m.TryReserve(s, Location(st.slot), t0)
				case "promote":
					err := f.m.Promote(s, Location(st.slot))
					if st.want == nil {
						if err != nil {
							t.Fatalf("step %d: Promote = %v, want nil", i, err)
						}
					} else if !errors.Is(err, st.want.(error)) {
						t.Fatalf("step %d: Promote = %v, want %v", i, err, st.want)
					}
					got = st.want
				case "drop":
					got = f.m.Drop(s)
				}
				if got != st.want {
					t.Fatalf("step %d %s(%d) = %v, want %v", i, st.op, st.slot, got, st.want)
				}
				if s.State() != st.state || f.m.Count() != st.count {
					t.Fatalf("step %d: state %v count %d, want %v %d", i, s.State(), f.m.Count(), st.state, st.count)
				}
				if f.m.Count() != f.transientSlots() {
					t.Fatalf("step %d: Count %d but %d transient slots", i, f.m.Count(), f.transientSlots())
				}
				if (s.State() == StateEstablished) != (func() bool { _, ok := est.Location(st.slot); return ok })() {
					t.Fatalf("step %d: state %v disagrees with the established set", i, s.State())
				}
			}
		})
	}
}

// TestTransientTTL drives the wheel with a fake clock: a reservation expires
// at its TTL and not one tick before; promotion and drop cancel it.
func TestTransientTTL(t *testing.T) {
	const ttl = 30 * time.Second
	tick := time.Millisecond
	reserveAt := t0.Add(5 * time.Second)
	deadline := reserveAt.Add(ttl)
	var expired []int
	f := newFixture(t, 3, TransientConfig[int]{Hooks: Hooks[int]{
		Expire: func(p int, now monotime.Time) {
			if now < deadline {
				t.Errorf("peer %d expired at %v, before its deadline %v", p, now, deadline)
			}
			expired = append(expired, p)
		},
	}})
	m := f.m
	for i := range f.slots {
		if !m.TryReserve(&f.slots[i], Location(i), reserveAt) {
			t.Fatal("reserve failed")
		}
	}
	// Duplicate reservations later must not extend or move the deadline.
	m.TryReserve(&f.slots[0], 99, reserveAt.Add(10*time.Second))
	if err := m.Promote(&f.slots[1], 1); err != nil { // cancels its TTL
		t.Fatal(err)
	}
	for now := t0; now < deadline; now = now.Add(tick) {
		f.w.Advance(now)
	}
	if len(expired) != 0 || m.Count() != 2 {
		t.Fatalf("expired %v, count %d before the deadline", expired, m.Count())
	}
	if m.Drop(&f.slots[2]) != StateTransient { // cancels its TTL
		t.Fatal("drop of a transient")
	}
	f.w.Advance(deadline)
	if len(expired) != 1 || expired[0] != 0 {
		t.Fatalf("expired %v at the deadline, want [0]", expired)
	}
	if f.slots[0].State() != StateExpired || f.slots[0].Location() != 0 || m.Count() != 0 {
		t.Fatalf("slot 0 %v loc %v, count %d", f.slots[0].State(), f.slots[0].Location(), m.Count())
	}
	if f.w.Len() != 0 {
		t.Fatalf("%d timers still armed", f.w.Len())
	}
	if err := m.Promote(&f.slots[0], 0); !errors.Is(err, ErrExpired) {
		t.Fatalf("Promote after expiry = %v, want ErrExpired", err)
	}
	// An expired peer may reserve again, with a fresh TTL.
	again := deadline.Add(time.Second)
	if !m.TryReserve(&f.slots[0], 0, again) {
		t.Fatal("re-reserve after expiry failed")
	}
	f.w.Advance(again.Add(ttl - tick))
	if !f.slots[0].IsTransient() {
		t.Fatal("re-reservation expired early")
	}
	f.w.Advance(again.Add(ttl))
	if f.slots[0].State() != StateExpired || len(expired) != 2 {
		t.Fatalf("re-reservation did not expire: %v", f.slots[0].State())
	}
	st := m.Stats()
	want := TransientStats{Count: 0, Budget: 2048, Peak: 3, Reserved: 4, Duplicate: 1, Promoted: 1, PromoteFailed: 1, Dropped: 1, Expired: 2}
	if st != want {
		t.Fatalf("Stats = %+v\nwant    %+v", st, want)
	}
}

// TestStaleFiringRearms: an Advance given an earlier now than the deadline
// (a stale or out-of-order firing) must not lose the reservation's expiry.
func TestStaleFiringRearms(t *testing.T) {
	f := newFixture(t, 1, TransientConfig[int]{TTL: time.Second})
	s := &f.slots[0]
	f.m.TryReserve(s, 0, t0)
	s.onExpire(t0.Add(time.Second / 2)) // as if an older arming fired now
	if !s.IsTransient() {
		t.Fatal("stale firing expired the reservation")
	}
	f.w.Advance(t0.Add(time.Second))
	if s.State() != StateExpired {
		t.Fatalf("state %v after the deadline", s.State())
	}
}

func TestTransientNoAllocs(t *testing.T) {
	f := newFixture(t, 2, TransientConfig[int]{})
	m, now := f.m, t0
	n := testing.AllocsPerRun(200, func() {
		s := &f.slots[0]
		m.TryReserve(s, 1, now)
		m.TryReserve(s, 1, now)
		_ = m.Promote(s, 1)
		m.Drop(s)
		m.TryReserve(&f.slots[1], 2, now)
		m.Drop(&f.slots[1])
		now = now.Add(time.Millisecond)
		f.w.Advance(now)
	})
	if n != 0 {
		t.Fatalf("reserve/promote/drop cycle allocates %v", n)
	}
}

func TestSlotMisuse(t *testing.T) {
	f := newFixture(t, 1, TransientConfig[int]{})
	other := newFixture(t, 0, TransientConfig[int]{})
	tests := []struct {
		name string
		fn   func()
	}{
		{"uninitialised slot", func() { f.m.TryReserve(new(Slot[int]), 0, t0) }},
		{"slot of another manager", func() { other.m.Drop(&f.slots[0]) }},
		{"double init", func() { f.m.InitSlot(&f.slots[0], 0) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.fn()
		})
	}
}

// TestHooksRunUnlocked: hooks may call back into the manager and the slot
// (they would deadlock if a lock were held), and see the change complete.
func TestHooksRunUnlocked(t *testing.T) {
	var f *fixture
	var log []string
	f = newFixture(t, 1, TransientConfig[int]{TTL: time.Second, Hooks: Hooks[int]{
		Reserve: func(p int, loc Location) {
			s := &f.slots[p]
			log = append(log, fmt.Sprintf("reserve %v %v", s.State(), s.Location() == loc))
		},
		Promote: func(p int, _ Location) {
			log = append(log, fmt.Sprintf("promote %v", f.m.Drop(&f.slots[p])))
		},
		Drop: func(p int, from State) { log = append(log, fmt.Sprintf("drop %v", from)) },
		Expire: func(p int, _ monotime.Time) {
			log = append(log, fmt.Sprintf("expire %v", f.m.Drop(&f.slots[p])))
		},
	}})
	s := &f.slots[0]
	f.m.TryReserve(s, 7, t0)
	_ = f.m.Promote(s, 7)
	f.m.TryReserve(s, 7, t0)
	f.w.Advance(t0.Add(time.Second))
	want := []string{
		"reserve transient true", "drop established", "promote established",
		"reserve transient true", "expire expired",
	}
	if !slices.Equal(log, want) {
		t.Fatalf("hook log %q\nwant %q", log, want)
	}
}
