package wheel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// owner stands for the struct a Timer is embedded in (a transient entry, a
// Peer); its size is what a live timer costs the wheel.
type owner struct {
	Timer
}

func nop(monotime.Time) {}

func nopFunc() {}

// heapBytes returns the live heap after a GC.
func heapBytes() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkTimers schedules 1,000,000 timers with random 30-60 s deadlines,
// then cancels them all (most transients are promoted before their TTL):
// the wheel against runtime timers in the same binary, both as a naive
// user arms them (runtime: a new time.AfterFunc per arming, then Stop) and
// as a competent one does (runtime-reuse: one timer per owner, Reset and
// Stop; the fair baseline, since the wheel's owners are reused too). One op is the whole million; ns/timer is per schedule+cancel,
// B/timer is the heap a live timer holds.
func BenchmarkTimers(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(30, 60))
	delays := make([]time.Duration, n)
	for i := range delays {
		delays[i] = 30*time.Second + time.Duration(rng.Int64N(int64(30*time.Second)))
	}
	report := func(b *testing.B, bytes uint64) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/timer")
		b.ReportMetric(float64(bytes)/n, "B/timer")
	}

	b.Run("wheel", func(b *testing.B) {
		start := monotime.Now()
		w, err := New(start, Config{})
		if err != nil {
			b.Fatal(err)
		}
		// Memory: the owners (each embedding a Timer) are all the wheel
		// needs per live timer; the wheel's own arrays are fixed.
		before := heapBytes()
		owners := make([]owner, n)
		for i := range owners {
			owners[i].Init(w, nop)
			w.Add(&owners[i].Timer, start.Add(delays[i]))
		}
		live := heapBytes() - before
		for i := range owners {
			w.Cancel(&owners[i].Timer)
		}
		b.ReportAllocs()
		for b.Loop() {
			for i := range owners {
				owners[i].Init(w, nop)
				w.Add(&owners[i].Timer, start.Add(delays[i]))
			}
			for i := range owners {
				w.Cancel(&owners[i].Timer)
			}
		}
		report(b, live)
		runtime.KeepAlive(owners)
	})

	b.Run("runtime", func(b *testing.B) {
		timers := make([]*time.Timer, n)
		before := heapBytes()
		for i := range timers {
			timers[i] = time.AfterFunc(delays[i], nopFunc)
		}
		live := heapBytes() - before
		for _, t := range timers {
			t.Stop()
		}
		b.ReportAllocs()
		for b.Loop() {
			for i := range timers {
				timers[i] = time.AfterFunc(delays[i], nopFunc)
			}
			for _, t := range timers {
				t.Stop()
			}
		}
		report(b, live)
	})

	// runtime-reuse is the runtime as a competent user drives it, like the
	// wheel's owners: one *time.Timer per owner, made before the timed
	// loop, re-armed with Reset and disarmed with Stop (Go 1.23 timers:
	// Reset of a stopped AfterFunc timer arms it again, allocating
	// nothing). runtime keeps the AfterFunc per arming a naive user writes.
	b.Run("runtime-reuse", func(b *testing.B) {
		timers := make([]*time.Timer, n)
		before := heapBytes()
		for i := range timers {
			timers[i] = time.AfterFunc(delays[i], nopFunc)
		}
		live := heapBytes() - before
		for _, t := range timers {
			t.Stop()
		}
		b.ReportAllocs()
		for b.Loop() {
			for i, t := range timers {
				t.Reset(delays[i])
			}
			for _, t := range timers {
				t.Stop()
			}
		}
		report(b, live)
	})
}

func count(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// BenchmarkContention arms and cancels timers from b.RunParallel (4
// goroutines per P), one private set of timers per goroutine: one shard (a
// single global mutex, the classic wheel) against sharded wheels. One op is
// an Add plus a Cancel.
//
// inbox-floor is the least a one-owner wheel with a lock-free inbox would
// pay for the same op: two CAS pushes onto one shared MPSC stack, drained
// with a Swap as its owner would (not counting the owner applying them, nor
// the state word Cancel would still need to answer synchronously). Every
// producer hits the same cache line, as with one mutex.
func BenchmarkContention(b *testing.B) {
	def, _ := New(0, Config{})
	for _, shards := range []int{1, 4, len(def.shards)} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			start := monotime.Time(1_000_000)
			w, err := New(start, Config{Shards: shards})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				timers := make([]owner, 64)
				for i := range timers {
					timers[i].Init(w, nop)
				}
				i := 0
				for pb.Next() {
					t := &timers[i&63].Timer
					w.Add(t, start.Add(time.Duration(1+i&1023)*time.Millisecond))
					w.Cancel(t)
					i++
				}
			})
		})
	}
	b.Run("inbox-floor", func(b *testing.B) {
		type op struct {
			next     *op
			deadline monotime.Time
		}
		var inbox atomic.Pointer[op]
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			ops := make([]op, 128)
			i := 0
			for pb.Next() {
				for range 2 { // Add, then Cancel
					o := &ops[i&127]
					o.deadline = monotime.Time(i)
					i++
					for {
						head := inbox.Load()
						o.next = head
						if inbox.CompareAndSwap(head, o) {
							break
						}
					}
				}
				if i&63 == 0 {
					inbox.Swap(nil) // the owner takes the batch
				}
			}
		})
	})
}

// BenchmarkResetPostpone is the per-packet pattern: an idle or loss timer,
// already armed, pushed a little later on every packet. serial is one
// event loop; parallel is every P doing it on its own peers' timers.
func BenchmarkResetPostpone(b *testing.B) {
	setup := func(b *testing.B) (*Wheel, monotime.Time) {
		start := monotime.Time(1_000_000)
		w, err := New(start, Config{})
		if err != nil {
			b.Fatal(err)
		}
		return w, start
	}
	b.Run("serial", func(b *testing.B) {
		w, start := setup(b)
		timers := make([]owner, 1024)
		for i := range timers {
			timers[i].Init(w, nop)
			w.Add(&timers[i].Timer, start.Add(30*time.Second))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.Reset(&timers[i&1023].Timer, start.Add(30*time.Second+time.Duration(i)*time.Microsecond))
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		w, start := setup(b)
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			timers := make([]owner, 64)
			for i := range timers {
				timers[i].Init(w, nop)
				w.Add(&timers[i].Timer, start.Add(30*time.Second))
			}
			i := 0
			for pb.Next() {
				w.Reset(&timers[i&63].Timer, start.Add(30*time.Second+time.Duration(i)*time.Microsecond))
				i++
			}
		})
	})
}
