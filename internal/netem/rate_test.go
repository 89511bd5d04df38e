package netem

import (
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// ceilDiv returns ceil(a*b/c) with math/big, a reference independent of the
// 128-bit helpers under test.
func ceilDiv(a, b, c int64) int64 {
	num := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	num.Add(num, big.NewInt(c-1))
	return num.Quo(num, big.NewInt(c)).Int64()
}

// TestRateExactUnderSaturation offers ten times the capacity of a link whose
// rate does not divide a second evenly: every admitted datagram must leave
// at exactly ceil(bytes admitted so far * 1e9 / Rate) ns after the first
// arrival, so the link moves Rate bytes per second with no drift, over a
// run long enough (10 s simulated) that per-datagram rounding would show.
func TestRateExactUnderSaturation(t *testing.T) {
	const rate = 1_234_567 // bytes/s
	const size = 1200
	l := mustNew(t, Config{Rate: rate, QueueBytes: 20_000})
	var fates []Fate
	var admitted int64
	var last monotime.Time
	drops := 0
	for i := range 100_000 {
		now := at(int64(i) * 100_000) // one every 100 us: 12 MB/s offered
		fates = l.Decide(fates[:0], now, size)
		if len(fates) == 0 {
			drops++
			continue
		}
		admitted += size
		want := at(ceilDiv(admitted, int64(time.Second), rate))
		if fates[0].At != want {
			t.Fatalf("datagram %d: leaves at %d, want %d (after %d bytes)", i, fates[0].At, want, admitted)
		}
		last = fates[0].At
	}
	// The long-run rate: admitted/last is rate to within one nanosecond of
	// rounding at the end, i.e. admitted*1e9/rate <= last < that + 1.
	exact := new(big.Rat).SetFrac(big.NewInt(admitted*int64(time.Second)), big.NewInt(rate))
	lastR := new(big.Rat).SetInt64(int64(last))
	if lastR.Cmp(exact) < 0 || new(big.Rat).Sub(lastR, exact).Cmp(big.NewRat(1, 1)) >= 0 {
		t.Fatalf("%d bytes left by %d ns; exact rate gives %s", admitted, last, exact.FloatString(3))
	}
	if drops == 0 || l.Stats().DroppedQueue != uint64(drops) {
		t.Fatalf("saturating run dropped %d, Stats %+v", drops, l.Stats())
	}
}

// fluidRef is the reference bottleneck for a Rate of 1e6 bytes/s, where a
// byte takes exactly 1 us, so with arrivals on whole microseconds every
// quantity is an integer and the model can be stated directly: a FIFO of
// admitted datagrams, each leaving size us after the one before it (or
// after its arrival if the link was idle).
type fluidRef struct {
	deps  []int64 // departure of each admitted datagram, in us
	sizes []int64
	limit int64
}

// backlog returns the bytes not yet serialized at now (us): the datagram on
// the wire counts for its unsent part, those behind it in full.
func (r *fluidRef) backlog(now int64) int64 {
	var b int64
	for i := len(r.deps) - 1; i >= 0 && r.deps[i] > now; i-- {
		b += min(r.sizes[i], r.deps[i]-now)
	}
	return b
}

func (r *fluidRef) offer(now, size int64) (dep int64, ok bool) {
	if r.backlog(now)+size > r.limit {
		return 0, false
	}
	dep = now + size
	if k := len(r.deps); k > 0 && r.deps[k-1] > now {
		dep = r.deps[k-1] + size
	}
	r.deps = append(r.deps, dep)
	r.sizes = append(r.sizes, size)
	return dep, true
}

// TestQueueBoundAndTailDrop drives bursty random traffic at a byte-limited
// bottleneck and checks every decision against the reference: the datagram
// is dropped exactly when the bytes waiting plus its own would exceed
// QueueBytes, the waiting bytes never exceed it, and departures match.
func TestQueueBoundAndTailDrop(t *testing.T) {
	const limit = 5000
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 2))
		l := mustNew(t, Config{Rate: 1_000_000, QueueBytes: limit, Seed: seed})
		ref := fluidRef{limit: limit}
		var fates []Fate
		now := int64(0) // us
		admitted, dropped := 0, 0
		for i := range 20_000 {
			// Bursts of back-to-back datagrams, then pauses: about 1.3x
			// the capacity on average, so the queue fills and drains.
			if rng.IntN(8) == 0 {
				now += int64(rng.IntN(4000))
			}
			size := int64(1 + rng.IntN(1500))
			tnow := at(now * 1000)
			if got, want := l.Backlog(tnow), ref.backlog(now); got != want {
				t.Fatalf("seed %d datagram %d at %d us: Backlog %d, reference %d", seed, i, now, got, want)
			}
			fates = l.Decide(fates[:0], tnow, int(size))
			dep, ok := ref.offer(now, size)
			if ok != (len(fates) == 1) {
				t.Fatalf("seed %d datagram %d (%d B, backlog %d): admitted=%v, reference says %v",
					seed, i, size, ref.backlog(now), len(fates) == 1, ok)
			}
			if !ok {
				dropped++
				continue
			}
			admitted++
			if fates[0].At != at(dep*1000) {
				t.Fatalf("seed %d datagram %d: leaves at %d, reference %d us", seed, i, fates[0].At, dep)
			}
			if b := l.Backlog(tnow); b > limit {
				t.Fatalf("seed %d datagram %d: %d bytes waiting, limit %d", seed, i, b, limit)
			}
		}
		if admitted == 0 || dropped == 0 {
			t.Fatalf("seed %d: admitted %d, dropped %d: the run must both fill and drain the queue", seed, admitted, dropped)
		}
		if l.Stats().DroppedQueue != uint64(dropped) {
			t.Fatalf("Stats %+v, dropped %d", l.Stats(), dropped)
		}
	}
}

func TestOversizedDatagramAlwaysDropped(t *testing.T) {
	l := mustNew(t, Config{Rate: 1_000_000, QueueBytes: 1500})
	for i := range 10 {
		if f := l.Decide(nil, at(int64(i)*1e9), 1501); len(f) != 0 {
			t.Fatalf("a 1501-byte datagram passed a 1500-byte queue: %v", f)
		}
		if f := l.Decide(nil, at(int64(i)*1e9+1), 1500); len(f) != 1 {
			t.Fatal("a 1500-byte datagram was dropped by an idle 1500-byte queue")
		}
	}
}

// TestNoDropsWithoutOverload offers 90% of the capacity at a steady pace:
// nothing is dropped, and each datagram finds the link idle, so it arrives
// exactly its serialization time plus Delay after it was offered.
func TestNoDropsWithoutOverload(t *testing.T) {
	const rate, size = 1_000_000, 1000 // 1 ms per datagram
	tests := []struct {
		name string
		cfg  Config
	}{
		{"default queue", Config{Rate: rate}},
		{"one-datagram queue", Config{Rate: rate, QueueBytes: size}},
		{"with delay", Config{Rate: rate, Delay: 30 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, tt.cfg)
			var fates []Fate
			for i := range 10_000 {
				now := at(int64(i) * 1_111_111)
				fates = l.Decide(fates[:0], now, size)
				want := now + at(int64(time.Millisecond)+int64(tt.cfg.Delay))
				if len(fates) != 1 || fates[0].At != want {
					t.Fatalf("datagram %d: fates %v, want one at %d", i, fates, want)
				}
			}
			if s := l.Stats(); s.DroppedQueue != 0 || s.Delivered != 10_000 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestLossTakesNoCapacity: a datagram lost on the path never reaches the
// bottleneck, so a link at 50% loss and 2x load runs below capacity.
func TestLossTakesNoCapacity(t *testing.T) {
	l := mustNew(t, Config{Rate: 1_000_000, QueueBytes: 1000, Loss: 0.5, Seed: 9})
	var fates []Fate
	for i := range 10_000 {
		now := at(int64(i) * 500_000) // 1000 B every 0.5 ms: 2x capacity
		fates = l.Decide(fates[:0], now, 1000)
		_ = fates
	}
	s := l.Stats()
	// Only the survivors of loss compete; with a one-datagram queue some
	// still collide, but far fewer than the half a lossless link drops.
	if s.DroppedQueue == 0 || s.DroppedQueue > s.Sent/4 {
		t.Fatalf("stats %+v: want some, but far fewer than Sent/2, queue drops", s)
	}
	checkConservation(t, s)
}
