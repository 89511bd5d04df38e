package congestion

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ErrWindowTimeout is returned by FlightSize.Reserve when its deadline passes
// before room opens in the window; errors.Is(err, context.DeadlineExceeded)
// holds for it.
var ErrWindowTimeout = fmt.Errorf("congestion: timed out waiting for window: %w", context.DeadlineExceeded)

// ErrLargerThanWindow is returned by FlightSize.Reserve when the reservation
// exceeds the whole window with nothing in flight, so no release can ever make
// room for it. Writers split data into packets no larger than the minimum
// window.
var ErrLargerThanWindow = errors.New("congestion: reservation larger than the whole window")

// Window reports a connection's current congestion window in bytes.
// Every Controller is a Window.
type Window interface {
	Window() uint64
}

// FlightStats is a snapshot of a FlightSize.
type FlightStats struct {
	InFlight       uint64 // bytes currently in flight
	Underflows     uint64 // Release calls that asked for more than was in flight (bugs)
	UnderflowBytes uint64 // total excess bytes those calls asked for
	Waits          uint64 // times a writer parked waiting for room
}

// FlightSize is the atomic count of one connection's bytes in flight.
//
// Concurrency: safe for concurrent use; the zero value is ready (0 bytes).
// Guard map: bytes, underflows, underflowBytes, waits and waiters are atomic;
// mu guards ch and nothing else, and is never held across anything but the
// swap of ch.
type FlightSize struct {
	bytes atomic.Uint64
	_     [56]byte // bytes is the hot word: give it its own cache line

	waiters        atomic.Int32
	underflows     atomic.Uint64
	underflowBytes atomic.Uint64
	waits          atomic.Uint64

	mu sync.Mutex
	ch chan struct{} // closed (and replaced) to wake every waiter; nil until first wait
}

// Load returns the bytes in flight.
func (f *FlightSize) Load() uint64 { return f.bytes.Load() }

// TryReserve adds n bytes if, after adding them, no more than window bytes
// would be in flight. It is one compare-and-swap loop: the check and the add
// are a single step. It never allocates.
func (f *FlightSize) TryReserve(n, window uint64) bool {
	for {
		cur := f.bytes.Load()
		if cur+n > window || cur+n < cur {
			return false
		}
		if f.bytes.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// Add adds n bytes unconditionally (control packets, probes: they must go
// out whatever the window says).
func (f *FlightSize) Add(n uint64) { f.bytes.Add(n) }

// Release removes n bytes and wakes writers waiting for room. Releasing more
// than is in flight is an accounting bug: the counter is set to zero (never
// wrapped), the underflow is counted in Stats, and the call panics in test
// binaries and under the petreldebug build tag.
func (f *FlightSize) Release(n uint64) {
	if n == 0 {
		return
	}
	for {
		cur := f.bytes.Load()
		if n > cur {
			if f.bytes.CompareAndSwap(cur, 0) {
				f.underflows.Add(1)
				f.underflowBytes.Add(n - cur)
				f.Notify()
				if panicOnUnderflow() {
					panic(fmt.Sprintf("congestion: FlightSize underflow: release %d with %d in flight", n, cur))
				}
				return
			}
			continue
		}
		if f.bytes.CompareAndSwap(cur, cur-n) {
			break
		}
	}
	f.Notify()
}

// Notify wakes every writer parked in Reserve so it re-checks the window.
// Release calls it; the ACK path calls it after the window grows. With no
// waiter it costs one atomic load.
func (f *FlightSize) Notify() {
	if f.waiters.Load() == 0 {
		return
	}
	f.mu.Lock()
	if f.ch != nil {
		close(f.ch)
		f.ch = nil
	}
	f.mu.Unlock()
}

// Reserve reserves n bytes against w's window, parking until a Release or
// Notify makes room. It returns ctx.Err() if ctx ends first, and
// ErrWindowTimeout if deadline (zero: none) passes first. A reservation
// larger than the whole window can never succeed once nothing is in flight
// (no ACK will come to grow the window): Reserve returns ErrLargerThanWindow
// as soon as it sees n > w.Window() with 0 bytes in flight, at once if that
// holds on entry.
//
// w.Window is called from the writer's goroutine, so it must be safe for
// concurrent use (every Controller's Window is). Whoever grows the window
// must call Notify afterwards, so parked writers re-check it.
func (f *FlightSize) Reserve(ctx context.Context, n uint64, w Window, deadline time.Time) error {
	if win := w.Window(); f.TryReserve(n, win) {
		return nil
	} else if n > win && f.bytes.Load() == 0 {
		return ErrLargerThanWindow
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return ErrWindowTimeout
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	f.waiters.Add(1)
	defer f.waiters.Add(-1)
	f.waits.Add(1)
	for {
		// Take the wake channel before re-checking, so a Release that lands
		// between the check and the select still wakes us (the waiter count
		// is raised before the check: see Notify).
		f.mu.Lock()
		if f.ch == nil {
			f.ch = make(chan struct{})
		}
		ch := f.ch
		f.mu.Unlock()
		win := w.Window()
		if n > win && f.bytes.Load() == 0 {
			return ErrLargerThanWindow
		}
		if f.TryReserve(n, win) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return ErrWindowTimeout
		}
	}
}

// Stats returns a snapshot of the counters.
func (f *FlightSize) Stats() FlightStats {
	return FlightStats{
		InFlight:       f.bytes.Load(),
		Underflows:     f.underflows.Load(),
		UnderflowBytes: f.underflowBytes.Load(),
		Waits:          f.waits.Load(),
	}
}

// panicOnUnderflow is true in test binaries and debug builds.
func panicOnUnderflow() bool { return debugBuild || testing.Testing() }
