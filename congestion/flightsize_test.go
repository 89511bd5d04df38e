package congestion

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// testWindow is a Window whose size a test changes at will; safe for
// concurrent use like every real Window.
type testWindow struct{ w atomic.Uint64 }

func newTestWindow(w uint64) *testWindow {
	tw := &testWindow{}
	tw.w.Store(w)
	return tw
}

func (t *testWindow) Window() uint64 { return t.w.Load() }

func TestFlightSizeTryReserve(t *testing.T) {
	tests := []struct {
		name   string
		start  uint64
		n      uint64
		window uint64
		ok     bool
		after  uint64
	}{
		{"empty fits", 0, 1200, 12000, true, 1200},
		{"exactly fills", 10800, 1200, 12000, true, 12000},
		{"one byte over", 10801, 1200, 12000, false, 10801},
		{"full window", 12000, 1, 12000, false, 12000},
		{"zero bytes at full", 12000, 0, 12000, true, 12000},
		{"zero bytes over window after Add", 13000, 0, 12000, false, 13000},
		{"larger than window", 0, 12001, 12000, false, 0},
		{"overflow never wraps", math.MaxUint64 - 10, 100, math.MaxUint64, false, math.MaxUint64 - 10},
		{"max window", math.MaxUint64 - 100, 100, math.MaxUint64, true, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f FlightSize
			f.Add(tt.start)
			if got := f.TryReserve(tt.n, tt.window); got != tt.ok {
				t.Fatalf("TryReserve(%d, %d) with %d in flight = %v, want %v", tt.n, tt.window, tt.start, got, tt.ok)
			}
			if got := f.Load(); got != tt.after {
				t.Fatalf("Load() = %d, want %d", got, tt.after)
			}
		})
	}
}

func TestFlightSizeAddRelease(t *testing.T) {
	tests := []struct {
		name    string
		adds    []uint64
		release []uint64
		want    uint64
	}{
		{"nothing", nil, nil, 0},
		{"add then release all", []uint64{1200, 1200}, []uint64{2400}, 0},
		{"partial release", []uint64{5000}, []uint64{1200, 1300}, 2500},
		{"release zero is a no-op", []uint64{100}, []uint64{0}, 100},
		{"add past any window", []uint64{1 << 40}, []uint64{1 << 39}, 1 << 39},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f FlightSize
			for _, n := range tt.adds {
				f.Add(n)
			}
			for _, n := range tt.release {
				f.Release(n)
			}
			st := f.Stats()
			if st.InFlight != tt.want || f.Load() != tt.want {
				t.Fatalf("in flight = %d (Load %d), want %d", st.InFlight, f.Load(), tt.want)
			}
			if st.Underflows != 0 || st.UnderflowBytes != 0 {
				t.Fatalf("unexpected underflow: %+v", st)
			}
		})
	}
}

// releaseRecovering calls f.Release(n) and returns the value it panicked
// with (nil if none).
func releaseRecovering(f *FlightSize, n uint64) (p any) {
	defer func() { p = recover() }()
	f.Release(n)
	return nil
}

func TestFlightSizeUnderflowIsCountedAndPanicsInTests(t *testing.T) {
	tests := []struct {
		name      string
		inFlight  uint64
		release   uint64
		wantBytes uint64
	}{
		{"release from empty", 0, 1200, 1200},
		{"release one byte too many", 1200, 1201, 1},
		{"double release", 1200, 2400, 1200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f FlightSize
			f.Add(tt.inFlight)
			if p := releaseRecovering(&f, tt.release); p == nil {
				t.Fatal("underflow did not panic in a test binary")
			}
			st := f.Stats()
			if st.InFlight != 0 {
				t.Fatalf("counter after underflow = %d, want 0 (never wrapped)", st.InFlight)
			}
			if st.Underflows != 1 || st.UnderflowBytes != tt.wantBytes {
				t.Fatalf("stats = %+v, want 1 underflow of %d bytes", st, tt.wantBytes)
			}
			// A correct release afterwards is not an underflow.
			f.Add(10)
			f.Release(10)
			if st := f.Stats(); st.Underflows != 1 {
				t.Fatalf("correct release counted as underflow: %+v", st)
			}
		})
	}
}

func TestFlightSizeReserveFastPath(t *testing.T) {
	var f FlightSize
	if err := f.Reserve(context.Background(), 1200, newTestWindow(12000), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if f.Load() != 1200 || f.Stats().Waits != 0 {
		t.Fatalf("fast path: in flight %d, stats %+v", f.Load(), f.Stats())
	}
}

func TestFlightSizeReserveLargerThanWindow(t *testing.T) {
	t.Run("on entry", func(t *testing.T) {
		var f FlightSize
		err := f.Reserve(context.Background(), 13000, newTestWindow(12000), time.Time{})
		if !errors.Is(err, ErrLargerThanWindow) {
			t.Fatalf("err = %v, want ErrLargerThanWindow", err)
		}
		if f.Load() != 0 || f.Stats().Waits != 0 {
			t.Fatalf("state changed: %+v", f.Stats())
		}
	})
	t.Run("after the last release", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		synctest.Test(t, func(t *testing.T) {
			var f FlightSize
			f.Add(1200)
			errc := make(chan error, 1)
			go func() {
				errc <- f.Reserve(context.Background(), 13000, newTestWindow(12000), time.Time{})
			}()
			synctest.Wait() // parked: something is in flight, the window may grow
			select {
			case err := <-errc:
				t.Fatalf("Reserve returned early: %v", err)
			default:
			}
			f.Release(1200)
			if err := <-errc; !errors.Is(err, ErrLargerThanWindow) {
				t.Fatalf("err = %v, want ErrLargerThanWindow", err)
			}
		})
	})
}

func TestFlightSizeReserveWakeups(t *testing.T) {
	tests := []struct {
		name string
		// wake makes room for the parked writer.
		wake func(f *FlightSize, w *testWindow)
	}{
		{"by Release", func(f *FlightSize, _ *testWindow) { f.Release(1200) }},
		{"by Notify after the window grew", func(f *FlightSize, w *testWindow) {
			w.w.Store(13200)
			f.Notify()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			synctest.Test(t, func(t *testing.T) {
				var f FlightSize
				w := newTestWindow(12000)
				f.Add(12000)
				errc := make(chan error, 1)
				go func() { errc <- f.Reserve(context.Background(), 1200, w, time.Time{}) }()
				synctest.Wait()
				select {
				case err := <-errc:
					t.Fatalf("Reserve did not park: %v", err)
				default:
				}
				if st := f.Stats(); st.Waits != 1 || st.InFlight != 12000 {
					t.Fatalf("while parked: %+v", st)
				}
				// A Notify with no room changes nothing: the writer parks again.
				f.Notify()
				synctest.Wait()
				select {
				case err := <-errc:
					t.Fatalf("woke without room: %v", err)
				default:
				}
				tt.wake(&f, w)
				if err := <-errc; err != nil {
					t.Fatalf("Reserve: %v", err)
				}
				if got, want := f.Load(), w.Window(); got != want {
					t.Fatalf("in flight after wake = %d, want %d", got, want)
				}
			})
		})
	}
}

func TestFlightSizeReserveCancel(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // 0: none
		cancel   bool
		want     error
	}{
		{"context canceled", 0, true, context.Canceled},
		{"deadline passes", 50 * time.Millisecond, false, ErrWindowTimeout},
		{"deadline already passed", -time.Second, false, ErrWindowTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			synctest.Test(t, func(t *testing.T) {
				var f FlightSize
				f.Add(12000)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var deadline time.Time
				if tt.deadline != 0 {
					deadline = time.Now().Add(tt.deadline)
				}
				start := time.Now()
				errc := make(chan error, 1)
				go func() { errc <- f.Reserve(ctx, 1200, newTestWindow(12000), deadline) }()
				synctest.Wait()
				if tt.cancel {
					cancel()
				}
				err := <-errc
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if tt.deadline > 0 {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatal("ErrWindowTimeout does not match context.DeadlineExceeded")
					}
					if waited := time.Since(start); waited != tt.deadline {
						t.Fatalf("gave up after %v (fake time), want exactly %v", waited, tt.deadline)
					}
				}
				if f.Load() != 12000 {
					t.Fatalf("failed Reserve changed the counter: %d", f.Load())
				}
			})
		})
	}
}

// TestFlightSizeConcurrentNeverExceedsWindow runs many writers that Reserve
// and Release against a window of a few packets: the counter never exceeds
// the window and ends at zero.
func TestFlightSizeConcurrentNeverExceedsWindow(t *testing.T) {
	defer goleak.VerifyNone(t)
	const (
		writers = 16
		rounds  = 2000
		pkt     = 1200
		window  = 3 * pkt
	)
	var f FlightSize
	w := newTestWindow(window)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var over atomic.Uint64
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := uint64(pkt - 100*(i%3)) // mixed sizes
			for range rounds {
				if err := f.Reserve(ctx, n, w, time.Time{}); err != nil {
					t.Errorf("Reserve: %v", err)
					return
				}
				if got := f.Load(); got > window {
					over.Store(got)
				}
				f.Release(n)
			}
		}()
	}
	wg.Wait()
	if got := over.Load(); got != 0 {
		t.Fatalf("flight %d exceeded window %d", got, window)
	}
	st := f.Stats()
	if st.InFlight != 0 || st.Underflows != 0 {
		t.Fatalf("at quiescence: %+v", st)
	}
}

func TestFlightSizeAllocs(t *testing.T) {
	var f FlightSize
	if n := testing.AllocsPerRun(1000, func() {
		f.TryReserve(1200, 12000)
		f.Release(1200)
	}); n != 0 {
		t.Fatalf("TryReserve+Release allocate %v per run", n)
	}
	if n := testing.AllocsPerRun(1000, func() { f.TryReserve(1200, 1<<40) }); n != 0 {
		t.Fatalf("TryReserve allocates %v per run", n)
	}
	if n := testing.AllocsPerRun(1000, func() { f.Release(1200) }); n != 0 {
		t.Fatalf("Release allocates %v per run", n)
	}
}

// mutexFlight is the baseline for BenchmarkFlightSize: the same
// check-and-reserve under a mutex.
type mutexFlight struct {
	mu    sync.Mutex
	bytes uint64
}

func (m *mutexFlight) tryReserve(n, window uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bytes+n > window {
		return false
	}
	m.bytes += n
	return true
}

func (m *mutexFlight) release(n uint64) {
	m.mu.Lock()
	m.bytes -= n
	m.mu.Unlock()
}

func BenchmarkFlightSize(b *testing.B) {
	const pkt, window = 1200, 1 << 30
	b.Run("parallel", func(b *testing.B) {
		var f FlightSize
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if f.TryReserve(pkt, window) {
					f.Release(pkt)
				}
			}
		})
	})
	b.Run("mutex", func(b *testing.B) {
		var m mutexFlight
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if m.tryReserve(pkt, window) {
					m.release(pkt)
				}
			}
		})
	})
}
