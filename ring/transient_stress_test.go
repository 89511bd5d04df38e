package ring

import (
	"errors"
	randv2 "math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"go.uber.org/goleak"
)

// TestTransientStress races reserve, promote and drop from several goroutines
// against TTL expiry driven by a fake clock on another, and checks DESIGN
// invariant 6: inside every hook the count is within the budget; at
// quiescence Count() equals the transient slots, every slot is in exactly one
// state consistent with the established set, the counters balance, and after
// dropping everything the whole budget is back.
func TestTransientStress(t *testing.T) {
	defer goleak.VerifyNone(t)
	const (
		workers, opsPerWorker = 4, 20000
		slots, budget, maxEst = 48, 12, 8
		tick                  = time.Millisecond
	)
	var (
		overBudget       atomic.Int64 // hook observations of Count() > budget
		shadow           atomic.Int64 // +1 per reserve, -1 per release, by the hooks
		droppedTransient atomic.Int64
		m                *TransientManager[int]
		check            = func() {
			if c := m.Count(); c > budget || c < 0 {
				overBudget.Add(1)
			}
		}
	)
	est := mustEstablished[int](t, EstablishedConfig{Min: 1, Max: maxEst})
	f := newFixture(t, slots, TransientConfig[int]{
		TTL: 40 * tick, Budget: budget, Established: est,
		Hooks: Hooks[int]{
			Reserve: func(int, Location) { check(); shadow.Add(1) },
			Promote: func(int, Location) { check(); shadow.Add(-1) },
			Drop: func(_ int, from State) {
				check()
				if from == StateTransient {
					shadow.Add(-1)
					droppedTransient.Add(1)
				}
			},
			Expire: func(int, monotime.Time) { check(); shadow.Add(-1) },
		},
	})
	m = f.m
	var clock atomic.Int64
	clock.Store(int64(t0))

	deadline := time.Now().Add(10 * time.Second) // bound in time as well as in count
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := randv2.New(randv2.NewPCG(uint64(g), 77))
			for i := 0; i < opsPerWorker && (i%256 != 0 || time.Now().Before(deadline)); i++ {
				s := &f.slots[rng.IntN(slots)]
				switch r := rng.IntN(10); {
				case r < 5:
					m.TryReserve(s, Location(rng.Uint64()), monotime.Time(clock.Load()))
				case r < 8:
					err := m.Promote(s, s.Location())
					if err != nil && !errors.Is(err, ErrNotTransient) && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrEstablishedFull) {
						t.Errorf("Promote: unexpected error %v", err)
					}
				default:
					m.Drop(s)
				}
			}
		}()
	}
	advancerDone := make(chan struct{})
	go func() { // the event loop: one goroutine drives the wheel
		defer close(advancerDone)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			f.w.Advance(monotime.Time(clock.Add(int64(tick))))
			if i%1024 == 0 && time.Now().After(deadline) {
				<-done
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	<-advancerDone

	if n := overBudget.Load(); n != 0 {
		t.Fatalf("%d hook observations of a count outside [0, budget]", n)
	}
	st := m.Stats()
	if st.Peak > budget {
		t.Fatalf("peak %d above budget %d", st.Peak, budget)
	}
	t.Logf("%+v", st)
	if st.Expired == 0 || st.Promoted == 0 || st.Rejected == 0 {
		t.Fatalf("stress did not exercise every path: %+v", st)
	}
	var perState [4]int
	for i := range f.slots {
		s := &f.slots[i]
		perState[s.State()]++
		_, inSet := est.Location(i)
		if inSet != (s.State() == StateEstablished) {
			t.Fatalf("slot %d: state %v but in established set = %v", i, s.State(), inSet)
		}
	}
	if m.Count() != perState[StateTransient] || shadow.Load() != int64(m.Count()) {
		t.Fatalf("Count %d, transient slots %d, hook shadow %d", m.Count(), perState[StateTransient], shadow.Load())
	}
	if est.Len() != perState[StateEstablished] {
		t.Fatalf("established set %d, established slots %d", est.Len(), perState[StateEstablished])
	}
	if got := st.Promoted + uint64(droppedTransient.Load()) + st.Expired + uint64(st.Count); got != st.Reserved {
		t.Fatalf("reservations %d but promoted+dropped+expired+live = %d (%+v)", st.Reserved, got, st)
	}
	for i := range f.slots {
		m.Drop(&f.slots[i])
	}
	if m.Count() != 0 || est.Len() != 0 || f.w.Len() != 0 {
		t.Fatalf("after dropping all: count %d, established %d, armed timers %d", m.Count(), est.Len(), f.w.Len())
	}
	for i := range budget { // the whole budget is back
		if !m.TryReserve(&f.slots[i], 0, monotime.Time(clock.Load())) {
			t.Fatalf("reservation %d of %d refused: budget leaked", i+1, budget)
		}
	}
	if m.TryReserve(&f.slots[budget], 0, monotime.Time(clock.Load())) {
		t.Fatal("reservation beyond the budget accepted")
	}
}
