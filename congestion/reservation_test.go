package congestion

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestReservation(t *testing.T) {
	var f FlightSize
	var r Reservation
	if r.Flight() != nil || r.Bytes() != 0 {
		t.Fatal("zero Reservation not empty")
	}
	if f.TryReserveFor(&r, 100, 50) {
		t.Fatal("TryReserveFor above the window succeeded")
	}
	if r.Flight() != nil || f.Load() != 0 {
		t.Fatalf("failed TryReserveFor filled the reservation or the flight (%d)", f.Load())
	}
	if !f.TryReserveFor(&r, 100, 1000) || r.Flight() != &f || r.Bytes() != 100 || f.Load() != 100 {
		t.Fatalf("TryReserveFor: flight %p %d, in flight %d", r.Flight(), r.Bytes(), f.Load())
	}
	got, n := r.Take()
	if got != &f || n != 100 || r.Flight() != nil || r.Bytes() != 0 || f.Load() != 100 {
		t.Fatalf("Take = %p %d; reservation %p %d; in flight %d", got, n, r.Flight(), r.Bytes(), f.Load())
	}
	r.Cancel() // empty: nothing to give back
	if f.Load() != 100 {
		t.Fatalf("Cancel of an empty reservation released bytes: %d in flight", f.Load())
	}
	f.Release(n)

	f.AddFor(&r, 70)
	if f.Load() != 70 || r.Bytes() != 70 {
		t.Fatalf("AddFor: %d in flight, reservation %d", f.Load(), r.Bytes())
	}
	r.Cancel()
	r.Cancel()
	if f.Load() != 0 || r.Flight() != nil {
		t.Fatalf("Cancel twice: %d in flight", f.Load())
	}

	if err := f.ReserveFor(context.Background(), &r, 10, fixedWindow(100), time.Time{}); err != nil || r.Bytes() != 10 {
		t.Fatalf("ReserveFor: %v, %d", err, r.Bytes())
	}
	r.Cancel()
	if err := f.ReserveFor(context.Background(), &r, 200, fixedWindow(100), time.Time{}); !errors.Is(err, ErrLargerThanWindow) || r.Flight() != nil {
		t.Fatalf("ReserveFor larger than the window: %v, reservation %d", err, r.Bytes())
	}
	if st := f.Stats(); st.InFlight != 0 || st.Underflows != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReservationRefill(t *testing.T) {
	var f FlightSize
	var r Reservation
	f.AddFor(&r, 5)
	defer func() {
		if recover() == nil {
			t.Fatal("filling a full reservation did not panic")
		}
		if f.Load() != 5 {
			t.Fatalf("refused refill changed the flight: %d", f.Load())
		}
	}()
	f.TryReserveFor(&r, 5, 100)
}

func TestReservationAllocs(t *testing.T) {
	var f FlightSize
	if n := testing.AllocsPerRun(1000, func() {
		var r Reservation
		if !f.TryReserveFor(&r, 10, 100) {
			t.Fatal("TryReserveFor failed")
		}
		r.Cancel()
		f.AddFor(&r, 10)
		r.Cancel()
	}); n != 0 {
		t.Fatalf("AllocsPerRun = %v, want 0", n)
	}
}

// fixedWindow is a Window that never changes.
type fixedWindow uint64

func (w fixedWindow) Window() uint64 { return uint64(w) }
