package ring

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// BenchmarkTransientChurn runs reserve -> promote-or-expire cycles at the
// default budget (2048) and TTL (30 s) from b.RunParallel. Each op reserves
// a slot of the goroutine's own slab; 15 of 16 successful reservations are
// promoted and then dropped (the slot is recycled), the 16th is left to
// expire on the wheel. Fake time advances 1 ms per op in total, so about
// TTL/16 ms = 1875 expiring reservations are live at once: the budget is
// nearly full and sometimes full. The wheel is advanced, one goroutine at a
// time, every 64 ops of a goroutine. Reported per op besides ns and allocs:
// expiries, promotions and refusals.
func BenchmarkTransientChurn(b *testing.B) {
	const slab = 16381 // prime: which reservations expire does not follow the slot
	w, err := wheel.New(t0, wheel.Config{})
	if err != nil {
		b.Fatal(err)
	}
	est := mustEstablished[int](b, EstablishedConfig{Max: 1 << 16})
	m, err := NewTransientManager(TransientConfig[int]{Wheel: w, Established: est})
	if err != nil {
		b.Fatal(err)
	}
	// Slabs are allocated and bound before timing, one per goroutine that
	// RunParallel starts (GOMAXPROCS of them).
	procs := runtime.GOMAXPROCS(0)
	slabs := make([][]Slot[int], procs)
	for g := range slabs {
		slabs[g] = make([]Slot[int], slab)
		for i := range slabs[g] {
			m.InitSlot(&slabs[g][i], g*slab+i)
		}
	}
	var (
		clock     atomic.Int64
		advancing atomic.Bool
		nextSlab  atomic.Int32
	)
	clock.Store(int64(t0))
	before := m.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(nextSlab.Add(1)) - 1
		if g >= procs {
			panic("more RunParallel goroutines than slabs")
		}
		slots := slabs[g]
		for i := 0; pb.Next(); i++ {
			s := &slots[i%slab]
			now := monotime.Time(clock.Load())
			if m.TryReserve(s, Location(uint64(i)*0x9e3779b97f4a7c15), now) && i%16 != 0 {
				if m.Promote(s, s.Location()) == nil {
					m.Drop(s)
				}
			}
			if i%64 == 63 {
				now = monotime.Time(clock.Add(int64(64 * time.Millisecond)))
				if advancing.CompareAndSwap(false, true) {
					w.Advance(now)
					advancing.Store(false)
				}
			}
		}
	})
	b.StopTimer()
	st := m.Stats()
	if st.Peak > st.Budget {
		b.Fatalf("peak %d above budget %d", st.Peak, st.Budget)
	}
	n := float64(b.N)
	b.ReportMetric(float64(st.Expired-before.Expired)/n, "expired/op")
	b.ReportMetric(float64(st.Promoted-before.Promoted)/n, "promoted/op")
	b.ReportMetric(float64(st.Rejected-before.Rejected)/n, "refused/op")
	b.ReportMetric(float64(st.Peak), "peak-transients")
}
