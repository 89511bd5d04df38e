package tracker

import (
	"runtime"
	"testing"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// burst runs a connection's worth of traffic through tr and resolves it
// all: 3,000 packets on 8 streams and control (a window of several chunks,
// growing the directory past its minimum), a tenth lost and retransmitted,
// one stream aborted, everything else acked. It returns the time reached.
func burst(tb testing.TB, fl *congestion.FlightSize, tr *Tracker, now monotime.Time) monotime.Time {
	tb.Helper()
	const n = 3000
	base := tr.pns.sentEnd.Load()
	pn := base
	for i := range uint64(n) {
		s := StreamID(i % 9)
		if s == 8 {
			s = Control
		}
		if err := sendOn(fl, tr, pn, s, 1000, now); err != nil {
			tb.Fatal(err)
		}
		pn++
	}
	// A jump of 40 chunks grows the directory past its minimum size.
	if err := sendOn(fl, tr, pn+40*chunkSize, Control, 10, now); err != nil {
		tb.Fatal(err)
	}
	pn += 40*chunkSize + 1
	var acks []AckRange
	for q := base; q < base+n; q++ {
		if (q-base)%10 != 0 {
			acks = append(acks, rng(q, q))
		}
	}
	acks = append(acks, rng(pn-1, pn-1))
	if _, err := tr.OnAck(acks, 0, now+ms); err != nil {
		tb.Fatal(err)
	}
	lost, _ := tr.DueForResend(nil, now+ms, rtt10)
	for _, l := range lost {
		var res congestion.Reservation
		fl.AddFor(&res, uint64(l.Size))
		if err := tr.Retransmit(l.PN, pn, &res, now+ms); err != nil {
			tb.Fatal(err)
		}
		pn++
	}
	tr.DropStream(3)
	if _, err := tr.OnAck([]AckRange{rng(base, pn-1)}, 0, now+2*ms); err != nil {
		tb.Fatal(err)
	}
	if st := tr.Stats(); st.InFlightPackets != 0 || st.LostPending != 0 || fl.Load() != 0 {
		tb.Fatalf("after the burst: flight %d, %+v", fl.Load(), st)
	}
	return now + 3*ms
}

// heapPerTracker returns the live heap bytes per tracker of n trackers
// built (and, with traffic, run through a burst each and left idle), after
// the garbage collector has run twice: sync.Pool contents are dropped by
// then, so what remains is what the trackers hold.
func heapPerTracker(tb testing.TB, n int, traffic bool) float64 {
	warm := newRig(tb, Config{}) // the shared pools' own structures exist before we measure
	burst(tb, warm.fl, warm.t, ms)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	rigs := make([]*rig, n)
	for i := range rigs {
		rigs[i] = newRig(tb, Config{})
		if traffic {
			burst(tb, rigs[i].fl, rigs[i].t, ms)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rigs)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
}

// TestIdleTrackerHoldsNothing: once every packet is resolved, a tracker
// holds no chunk, no stream list, no shard map and a minimal directory,
// whatever traffic it carried: its storage went back to the shared pools.
// By the heap, an idle tracker that carried a burst costs what a new one
// does, to within a few hundred bytes.
func TestIdleTrackerHoldsNothing(t *testing.T) {
	r := newRig(t, Config{})
	now := ms
	for range 3 {
		now = burst(t, r.fl, r.t, now)
		st := r.t.Stats()
		if st.Chunks != 0 || st.Streams != 0 {
			t.Fatalf("idle tracker holds %d chunks, %d stream lists", st.Chunks, st.Streams)
		}
		if n := len(r.t.pns.dir.Load().slots); n != minDirSize {
			t.Fatalf("idle tracker's directory has %d slots, want %d", n, minDirSize)
		}
		for i := range r.t.streams.shards {
			if r.t.streams.shards[i].m != nil {
				t.Fatalf("idle tracker's shard %d holds a map", i)
			}
		}
		r.checkBooks(t)
	}

	if raceEnabled {
		t.Log("heap comparison skipped: sync.Pool drops Puts under the race detector")
		return
	}
	const n = 200
	fresh := heapPerTracker(t, n, false)
	idle := heapPerTracker(t, n, true)
	t.Logf("live heap per tracker: new %.0f B, idle after a burst %.0f B", fresh, idle)
	if idle > fresh+512 {
		t.Fatalf("an idle tracker holds %.0f B, a new one %.0f B: traffic left storage behind", idle, fresh)
	}
}

// BenchmarkIdleTracker reports the live heap of a tracker that carried a
// burst of traffic (burst: 3,000 packets, losses, retransmissions, an
// aborted stream) and is now idle, everything resolved: what an idle
// connection's tracker costs the node. ns/op is the burst's.
func BenchmarkIdleTracker(b *testing.B) {
	b.ReportAllocs()
	idle := heapPerTracker(b, 1000, true)
	fresh := heapPerTracker(b, 1000, false)
	for b.Loop() {
		r := newRig(b, Config{})
		burst(b, r.fl, r.t, ms)
	}
	b.ReportMetric(idle, "B/idle-tracker")
	b.ReportMetric(fresh, "B/new-tracker")
}
