package tracker

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestMain fails the package if any test leaks a goroutine.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a tracker wired to a real FlightSize, as a connection has it.
type rig struct {
	t  *Tracker
	fl *congestion.FlightSize
}

func newRig(tb testing.TB, cfg Config) *rig {
	tb.Helper()
	fl := new(congestion.FlightSize)
	tr, err := New(fl, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &rig{t: tr, fl: fl}
}

// send reserves size in the flight (as the writer does) and registers the
// packet with that reservation.
func (r *rig) send(tb testing.TB, pn uint64, s StreamID, size uint32, now monotime.Time) {
	tb.Helper()
	if err := sendOn(r.fl, r.t, pn, s, size, now); err != nil {
		tb.Fatalf("OnSent(%d): %v", pn, err)
	}
}

// sendOn reserves size in fl without a window check and hands the
// reservation to tr.OnSent.
func sendOn(fl *congestion.FlightSize, tr *Tracker, pn uint64, s StreamID, size uint32, now monotime.Time) error {
	var res congestion.Reservation
	fl.AddFor(&res, uint64(size))
	return tr.OnSent(pn, s, &res, now)
}

func (r *rig) ack(tb testing.TB, now monotime.Time, ranges ...AckRange) AckResult {
	tb.Helper()
	res, err := r.t.OnAck(ranges, 0, now)
	if err != nil {
		tb.Fatalf("OnAck(%v): %v", ranges, err)
	}
	return res
}

// checkBooks asserts the flight holds exactly the tracker's in-flight bytes
// and no underflow happened.
func (r *rig) checkBooks(tb testing.TB) {
	tb.Helper()
	st, fs := r.t.Stats(), r.fl.Stats()
	if fs.InFlight != st.InFlightBytes {
		tb.Errorf("FlightSize %d, tracker in flight %d", fs.InFlight, st.InFlightBytes)
	}
	if fs.Underflows != 0 {
		tb.Errorf("%d underflows", fs.Underflows)
	}
}

const ms = monotime.Time(time.Millisecond)

func rng(a, b uint64) AckRange { return AckRange{Smallest: a, Largest: b} }

// retransmit reserves size in the flight (as the resend path does) and
// hands the reservation to Retransmit(lost, pn).
func (r *rig) retransmit(lost, pn uint64, size uint32, now monotime.Time) error {
	var res congestion.Reservation
	r.fl.AddFor(&res, uint64(size))
	return r.t.Retransmit(lost, pn, &res, now)
}

// phaseOf returns the phase of packet pn's entry, phaseEmpty if no slot
// holds it.
func (tr *Tracker) phaseOf(pn uint64) phase {
	_, e := tr.pns.lookup(pn)
	if e == nil {
		return phaseEmpty
	}
	if w := word(e.state.Load()); w.pn() == pn {
		return w.phase()
	}
	return phaseEmpty
}

// privateChunkPool makes the trackers of this test take chunks from a LIFO
// list of their own instead of the shared sync.Pool, so the test knows
// which chunk is recycled. Tests of this package do not run in parallel.
func privateChunkPool(t *testing.T) {
	l := []*chunk{}
	testChunkPool = &l
	t.Cleanup(func() { testChunkPool = nil })
}
