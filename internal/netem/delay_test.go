package netem

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestDelayBoundsAndOrder offers datagrams faster than the jitter range, so
// unrestricted jitter would reorder, and checks that every copy arrives in
// [now+Delay-Jitter, now+Delay+Jitter], in order unless JitterReorders.
func TestDelayBoundsAndOrder(t *testing.T) {
	const d, j = 10 * time.Millisecond, 3 * time.Millisecond
	tests := []struct {
		name    string
		cfg     Config
		inOrder bool
	}{
		{"constant delay", Config{Delay: d}, true},
		{"jitter keeps order", Config{Delay: d, Jitter: j}, true},
		{"jitter keeps order with duplicates", Config{Delay: d, Jitter: j, Duplicate: 0.2}, true},
		{"jitter may reorder", Config{Delay: d, Jitter: j, JitterReorders: true}, false},
		{"jitter equal to delay", Config{Delay: j, Jitter: j, JitterReorders: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Seed = 5
			l := mustNew(t, tt.cfg)
			lo, hi := tt.cfg.Delay-tt.cfg.Jitter, tt.cfg.Delay+tt.cfg.Jitter
			var fates []Fate
			var last monotime.Time
			inversions := 0
			var sum float64
			var bins [10]uint64 // first-copy delay, in tenths of [lo, hi]
			for i := range n {
				now := at(int64(i) * int64(100*time.Microsecond))
				fates = l.Decide(fates[:0], now, 100)
				for _, f := range fates {
					if dl := f.At.Sub(now); dl < lo || dl > hi {
						t.Fatalf("datagram %d: delay %v outside [%v, %v]", i, dl, lo, hi)
					}
					if f.At < last {
						inversions++
					}
					last = max(last, f.At)
				}
				sum += float64(fates[0].At.Sub(now))
				if width := int64(hi-lo) + 1; width > 1 {
					bins[int64(fates[0].At.Sub(now)-lo)*10/width]++
				}
			}
			if tt.inOrder && inversions != 0 {
				t.Fatalf("%d copies overtook an earlier one", inversions)
			}
			if !tt.inOrder {
				if inversions == 0 {
					t.Fatal("jitter over 30 send intervals reordered nothing")
				}
				// Uniform jitter: the mean delay is Delay, with sd
				// Jitter/sqrt(3) per datagram.
				mean := sum / n
				sd := float64(tt.cfg.Jitter) / math.Sqrt(3) / math.Sqrt(n)
				if math.Abs(mean-float64(tt.cfg.Delay)) > 4*sd {
					t.Errorf("mean delay %.0f ns, want %d +- %.0f", mean, tt.cfg.Delay, 4*sd)
				}
				// Uniform shape: each tenth of the range holds a tenth
				// of the datagrams (to within 1e-6, from the integer
				// grid), a binomial count.
				for k, c := range bins {
					within(t, fmt.Sprintf("delays in tenth %d", k), c, n, 0.1)
				}
			}
		})
	}
}

// TestReorderRate sends one datagram per millisecond over a 10 ms delay.
// A datagram picked for reordering arrives as it is sent, so it overtakes
// the ten before it that are still in flight (unless all of those were
// picked too, probability 1e-10); the others arrive in order, Delay after
// they were sent. So the datagrams that arrive before an earlier one are
// exactly the reordered ones, a binomial count.
func TestReorderRate(t *testing.T) {
	const p = 0.1
	const delay = 10 * time.Millisecond
	l := mustNew(t, Config{Delay: delay, Reorder: p, Seed: 6})
	var fates []Fate
	var latest, lastInOrder monotime.Time
	var overtakers uint64
	for i := range n {
		now := at(int64(i) * int64(time.Millisecond))
		fates = l.Decide(fates[:0], now, 100)
		f := fates[0]
		switch f.At {
		case now: // reordered
		case now.Add(delay):
			if f.At < lastInOrder {
				t.Fatalf("datagram %d: in-order copies out of order", i)
			}
			lastInOrder = f.At
		default:
			t.Fatalf("datagram %d: arrives %v after sending", i, f.At.Sub(now))
		}
		if f.At < latest {
			overtakers++
		}
		latest = max(latest, f.At)
	}
	within(t, "datagrams overtaking an earlier one", overtakers, n, p)
	if s := l.Stats(); s.Reordered < overtakers || s.Reordered-overtakers > 1 {
		// The first datagram can be picked with nothing to overtake.
		t.Fatalf("Stats.Reordered %d, overtakers %d", s.Reordered, overtakers)
	}
}

// TestNowNeverRunsBackwards: a now earlier than one already seen is taken
// as the latest, so a bottleneck's arithmetic never sees time go back.
func TestNowNeverRunsBackwards(t *testing.T) {
	l := mustNew(t, Config{Delay: time.Millisecond})
	l.Decide(nil, at(5000), 10)
	if f := l.Decide(nil, at(1000), 10); f[0].At != at(5000).Add(time.Millisecond) {
		t.Fatalf("late now: arrives at %d", f[0].At)
	}
	if f := l.Decide(nil, at(-7), 10); f[0].At != at(5000).Add(time.Millisecond) {
		t.Fatalf("negative now: arrives at %d", f[0].At)
	}
}

func TestNegativeSizePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Decide accepted a negative size")
		}
	}()
	mustNew(t, Config{}).Decide(nil, 0, -1)
}
