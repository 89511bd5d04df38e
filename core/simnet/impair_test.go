package simnet_test

import (
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/internal/netem"
)

// within fails unless got is within k standard deviations of the mean of a
// binomial(n, p) count.
func within(t *testing.T, what string, got, n int, p, k float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(got)-mean) > k*sd {
		t.Errorf("%s: %d of %d, want %.0f +- %.0f (%.0f sd)", what, got, n, mean, k*sd, k)
	}
}

// Loss over 10,000 datagrams stays within statistical bounds, and the
// drops are counted.
func TestLossRate(t *testing.T) {
	const n = 10_000
	for _, tc := range []struct {
		name string
		cfg  netem.Config
		p    float64 // expected loss rate
		k    float64 // allowed standard deviations of a binomial
	}{
		{"random 10%", netem.Config{Loss: 0.1}, 0.1, 5},
		{"random 1%", netem.Config{Loss: 0.01}, 0.01, 5},
		// Bursty loss has a larger variance than a binomial: losses come in
		// runs of mean 1/R = 4, so allow about sqrt(4)x more.
		{"gilbert", netem.Config{Burst: netem.GilbertElliott{P: 0.01, R: 0.25}}, netem.GilbertElliott{P: 0.01, R: 0.25}.StationaryLoss(), 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := newNet(t, 42, tc.cfg)
				a := listen(t, nw, addrA, newRecorder())
				rb := newRecorder()
				listen(t, nw, addrB, rb)
				send(t, a, addrB, 0, n, 64, 50)
				synctest.Wait()
				got := len(rb.arrivals())
				s := nw.Stats()
				if int(s.DroppedLoss) != n-got {
					t.Errorf("DroppedLoss %d, but %d of %d arrived", s.DroppedLoss, got, n)
				}
				within(t, "lost", n-got, n, tc.p, tc.k)
				checkConservation(t, nw)
			})
		})
	}
}

// fate is what happened to one datagram, as the receiver saw it.
type fate struct {
	seq     uint32
	at      time.Duration
	corrupt bool
}

// fates runs 2,000 datagrams from a to b (and as many from a to c) over an
// impaired network seeded with seed and returns what arrived at b.
func fates(t *testing.T, seed uint64, a, b netip.AddrPort) []fate {
	var out []fate
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, seed, netem.Config{
			Loss: 0.05, Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond,
			JitterReorders: true, Duplicate: 0.05, Corrupt: 0.05,
		})
		ea := listen(t, nw, a, newRecorder())
		rb := newRecorder()
		listen(t, nw, b, rb)
		listen(t, nw, addrC, newRecorder())
		for i := range 2000 {
			send(t, ea, addrC, i, 1, 100, 1)
			send(t, ea, b, i, 1, 100, 1)
			time.Sleep(50 * time.Microsecond)
		}
		time.Sleep(time.Second)
		for _, ar := range rb.arrivals() {
			seq := seqOf(ar.data)
			out = append(out, fate{seq, ar.at, !slices.Equal(ar.data, payload(seq, 100))})
		}
	})
	return out
}

// Equal seeds give equal fates; another seed, or another pair of
// addresses, gives others.
func TestDeterminism(t *testing.T) {
	first := fates(t, 7, addrA, addrB)
	if len(first) < 1500 {
		t.Fatalf("only %d arrivals", len(first))
	}
	if again := fates(t, 7, addrA, addrB); !slices.Equal(first, again) {
		t.Errorf("seed 7 twice: the fates differ")
	}
	if other := fates(t, 8, addrA, addrB); slices.Equal(first, other) {
		t.Errorf("seeds 7 and 8: the fates are the same")
	}
	if other := fates(t, 7, mustAP("10.0.0.1:4001"), addrB); slices.Equal(first, other) {
		t.Errorf("another source port: the fates are the same")
	}
}

// Duplicates and corrupted copies are counted and visible to the receiver:
// a duplicate arrives as a second intact copy, a corrupted copy differs
// from what was sent in exactly one bit.
func TestDuplicationAndCorruption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 4000
		nw := newNet(t, 3, netem.Config{Delay: time.Millisecond, Duplicate: 0.1, Corrupt: 0.1})
		a := listen(t, nw, addrA, newRecorder())
		rb := newRecorder()
		listen(t, nw, addrB, rb)
		send(t, a, addrB, 0, n, 200, 64)
		time.Sleep(time.Second)
		copies := map[uint32]int{}
		corrupted := 0
		for _, ar := range rb.arrivals() {
			// The corrupt bit may hit the sequence number: find the datagram
			// the copy is one bit away from.
			seq := seqOf(ar.data)
			want := payload(seq, 200)
			if d := bitDiff(ar.data, want); d != 0 {
				corrupted++
				if d != 1 {
					seq = nearest(ar.data, n)
				}
			}
			copies[seq]++
		}
		s := nw.Stats()
		dups := 0
		for seq := range uint32(n) {
			switch copies[seq] {
			case 1:
			case 2:
				dups++
			default:
				t.Fatalf("datagram %d arrived %d times", seq, copies[seq])
			}
		}
		if uint64(dups) != s.Duplicated || uint64(corrupted) != s.Corrupted {
			t.Errorf("seen %d duplicated, %d corrupted; Stats %+v", dups, corrupted, s)
		}
		within(t, "duplicated", dups, n, 0.1, 5)
		within(t, "corrupted", corrupted, n+dups, 0.1, 5)
		checkConservation(t, nw)
	})
}

// bitDiff returns the number of bits in which a and b (of equal length)
// differ.
func bitDiff(a, b []byte) int {
	d := 0
	for i := range a {
		d += bits.OnesCount8(a[i] ^ b[i])
	}
	return d
}

// nearest returns the sequence number below n whose payload is one bit
// away from b.
func nearest(b []byte, n int) uint32 {
	for seq := range uint32(n) {
		if bitDiff(b, payload(seq, len(b))) == 1 {
			return seq
		}
	}
	return math.MaxUint32
}

// Jitter reorders when JitterReorders is set and keeps order when it is
// not; every arrival stays within Delay +- Jitter of its send. Reorder
// sends some copies without delay.
func TestReordering(t *testing.T) {
	const n = 1000
	const gap = 100 * time.Microsecond
	for _, tc := range []struct {
		name     string
		cfg      netem.Config
		reorders bool
	}{
		{"jitter reorders", netem.Config{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, JitterReorders: true}, true},
		{"jitter keeps order", netem.Config{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}, false},
		{"reorder 10%", netem.Config{Delay: 10 * time.Millisecond, Reorder: 0.1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := newNet(t, 5, tc.cfg)
				a := listen(t, nw, addrA, newRecorder())
				rb := newRecorder()
				listen(t, nw, addrB, rb)
				for i := range n {
					send(t, a, addrB, i, 1, 100, 1)
					time.Sleep(gap)
				}
				time.Sleep(time.Second)
				got := rb.arrivals()
				if len(got) != n {
					t.Fatalf("%d arrived, want %d", len(got), n)
				}
				inversions, skipped := 0, 0
				for i, ar := range got {
					seq := seqOf(ar.data)
					if i > 0 && seq < seqOf(got[i-1].data) {
						inversions++
					}
					d := ar.at - time.Duration(seq)*gap
					if d == 0 {
						skipped++
						continue
					}
					lo := tc.cfg.Delay - tc.cfg.Jitter
					hi := tc.cfg.Delay + tc.cfg.Jitter
					if d < lo || d > hi {
						t.Errorf("datagram %d took %v, want within [%v, %v]", seq, d, lo, hi)
					}
				}
				if (inversions > 0) != tc.reorders {
					t.Errorf("%d inversions; want reordering %v", inversions, tc.reorders)
				}
				if s := nw.Stats(); s.Reordered != uint64(skipped) {
					t.Errorf("%d copies skipped the delay, Stats.Reordered %d", skipped, s.Reordered)
				}
				if tc.cfg.Reorder > 0 {
					within(t, "reordered", skipped, n, tc.cfg.Reorder, 5)
				}
			})
		})
	}
}

// A burst through a rate limit leaves the bottleneck size/rate apart;
// what overflows the queue is tail-dropped and counted.
func TestRateLimit(t *testing.T) {
	const rate = 1_000_000 // bytes/s: a 1000-byte datagram per millisecond
	const delay = 5 * time.Millisecond
	for _, tc := range []struct {
		name      string
		queue     int
		delivered int
	}{
		{"queue holds the burst", 100_000, 100},
		{"queue overflows", 10_000, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := newNet(t, 1, netem.Config{Delay: delay, Rate: rate, QueueBytes: tc.queue})
				a := listen(t, nw, addrA, newRecorder())
				rb := newRecorder()
				listen(t, nw, addrB, rb)
				send(t, a, addrB, 0, 100, 1000, 64)
				time.Sleep(time.Second)
				got := rb.arrivals()
				if len(got) != tc.delivered {
					t.Fatalf("%d delivered, want %d", len(got), tc.delivered)
				}
				for i, ar := range got {
					want := delay + time.Duration(i+1)*time.Millisecond
					if seqOf(ar.data) != uint32(i) || ar.at != want {
						t.Errorf("datagram %d (seq %d) at %v, want %v", i, seqOf(ar.data), ar.at, want)
					}
				}
				if s := nw.Stats(); s.DroppedQueue != uint64(100-tc.delivered) {
					t.Errorf("DroppedQueue %d, want %d", s.DroppedQueue, 100-tc.delivered)
				}
				checkConservation(t, nw)
			})
		})
	}
}

// A partition drops everything both ways, in flight included, and leaves
// other pairs alone; Heal restores the path.
func TestPartitionAndHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: 10 * time.Millisecond})
		ra, rb, rc := newRecorder(), newRecorder(), newRecorder()
		a := listen(t, nw, addrA, ra)
		b := listen(t, nw, addrB, rb)
		listen(t, nw, addrC, rc)

		send(t, a, addrB, 0, 5, 10, 5) // in flight when the cut comes
		time.Sleep(5 * time.Millisecond)
		nw.Partition(addrB, addrA) // either order names the pair
		send(t, a, addrB, 5, 5, 10, 5)
		send(t, b, addrA, 0, 5, 10, 5)
		send(t, a, addrC, 0, 5, 10, 5)
		time.Sleep(time.Second)
		if len(ra.arrivals()) != 0 || len(rb.arrivals()) != 0 {
			t.Fatalf("across the partition: %d and %d arrived", len(ra.arrivals()), len(rb.arrivals()))
		}
		if len(rc.arrivals()) != 5 {
			t.Errorf("a -> c, not partitioned: %d of 5 arrived", len(rc.arrivals()))
		}
		if s := nw.Stats(); s.DroppedPartition != 15 {
			t.Errorf("DroppedPartition %d, want 15", s.DroppedPartition)
		}

		nw.Heal(addrA, addrB)
		send(t, a, addrB, 10, 5, 10, 5)
		send(t, b, addrA, 5, 5, 10, 5)
		time.Sleep(time.Second)
		if len(ra.arrivals()) != 5 || len(rb.arrivals()) != 5 {
			t.Errorf("after Heal: %d and %d of 5 arrived", len(ra.arrivals()), len(rb.arrivals()))
		}
		checkConservation(t, nw)
	})
}
