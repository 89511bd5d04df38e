package congestion

import (
	"context"
	"time"
)

// Reservation is bytes counted in a FlightSize for one packet that is not
// registered yet: a writer's window reservation on its way to the
// sent-packet tracker. It is a linear token, so the bytes it carries leave
// the FlightSize exactly once:
//
//   - TryReserveFor, ReserveFor or AddFor fill an empty Reservation;
//   - the tracker takes it over when it registers the packet (it empties
//     the Reservation with Take, and gives the bytes back itself if it
//     refuses the packet), or Cancel gives the bytes back;
//   - either way it is empty again, so a second use finds nothing to take
//     instead of counting the bytes twice.
//
// Filling a Reservation that still holds bytes panics (the bytes would be
// lost to the books). The zero value is an empty Reservation. It is not
// safe for concurrent use and must not be copied once filled (go vet's
// copylocks check reports copies): pass a pointer.
type Reservation struct {
	_ noCopy
	f *FlightSize
	n uint64
}

// noCopy makes go vet's copylocks check report copies of a Reservation.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// TryReserveFor is TryReserve(n, window) that, on success, fills r with
// the n bytes. r must be empty. It never allocates.
func (f *FlightSize) TryReserveFor(r *Reservation, n, window uint64) bool {
	r.mustBeEmpty()
	if !f.TryReserve(n, window) {
		return false
	}
	r.f, r.n = f, n
	return true
}

// ReserveFor is Reserve(ctx, n, w, deadline) that, on success, fills r
// with the n bytes. r must be empty; on error it stays empty.
func (f *FlightSize) ReserveFor(ctx context.Context, r *Reservation, n uint64, w Window, deadline time.Time) error {
	r.mustBeEmpty()
	if err := f.Reserve(ctx, n, w, deadline); err != nil {
		return err
	}
	r.f, r.n = f, n
	return nil
}

// AddFor is Add(n) (no window check: control packets and PTO probes, RFC
// 9002 section 7.5) that fills r with the n bytes. r must be empty.
func (f *FlightSize) AddFor(r *Reservation, n uint64) {
	r.mustBeEmpty()
	f.Add(n)
	r.f, r.n = f, n
}

// Bytes returns the bytes r holds (0 when empty).
func (r *Reservation) Bytes() uint64 { return r.n }

// Flight returns the FlightSize r's bytes are counted in, nil when r is
// empty.
func (r *Reservation) Flight() *FlightSize { return r.f }

// Take empties r and returns what it held: from then on the bytes belong
// to the caller, who releases them exactly once (the sent-packet tracker,
// when the packet leaves the network).
func (r *Reservation) Take() (*FlightSize, uint64) {
	f, n := r.f, r.n
	r.f, r.n = nil, 0
	return f, n
}

// Cancel gives r's bytes back to its FlightSize (waking writers waiting
// for room) and empties r. Cancelling an empty Reservation does nothing, so
// `defer r.Cancel()` is safe after a Take.
func (r *Reservation) Cancel() {
	if f, n := r.Take(); f != nil {
		f.Release(n)
	}
}

func (r *Reservation) mustBeEmpty() {
	if r.f != nil {
		panic("congestion: filling a Reservation that still holds bytes")
	}
}
