package netem

import (
	"math"
	"testing"
)

// n is the number of datagrams each statistical test offers: enough that 4
// standard deviations are a small fraction of the rates tested, few enough
// that the suite stays fast under -race and on 386.
const n = 200_000

// lossPattern offers n datagrams one microsecond apart and returns which
// were dropped.
func lossPattern(t *testing.T, cfg Config) ([]bool, Stats) {
	t.Helper()
	l := mustNew(t, cfg)
	lost := make([]bool, n)
	var fates []Fate
	for i := range lost {
		fates = l.Decide(fates[:0], at(int64(i)*1000), 1000)
		lost[i] = len(fates) == 0
	}
	checkConservation(t, l.Stats())
	return lost, l.Stats()
}

// bursts returns the number of runs of consecutive losses and their total
// length.
func bursts(lost []bool) (runs, total int) {
	for i, x := range lost {
		if x {
			total++
			if i == 0 || !lost[i-1] {
				runs++
			}
		}
	}
	return runs, total
}

func TestIndependentLoss(t *testing.T) {
	for _, p := range []float64{0.001, 0.05, 0.3} {
		lost, s := lossPattern(t, Config{Loss: p, Seed: 1})
		within(t, "lost", s.DroppedLoss, n, p)
		// Independence: a loss right after a loss is as likely as any.
		var pairs, prevLost uint64
		for i := 1; i < n; i++ {
			if lost[i-1] {
				prevLost++
				if lost[i] {
					pairs++
				}
			}
		}
		within(t, "lost after a loss", pairs, prevLost, p)
		if s.DroppedBurst != 0 || s.DroppedQueue != 0 {
			t.Errorf("p=%v: drops by other reasons: %+v", p, s)
		}
	}
}

// markovSD returns the standard deviation of the loss rate measured over n
// datagrams of a stationary Gilbert-Elliott chain. Given the states, losses
// are independent with mean h(state), so Var(X) = l(1-l) and, for k >= 1,
// Cov(X_0, X_k) = (hB-hG)^2 piG piB lambda^k with lambda = 1-P-R the
// chain's second eigenvalue; summing the covariances gives
// n Var(mean) -> l(1-l) + 2 (hB-hG)^2 piG piB lambda/(1-lambda).
func markovSD(g GilbertElliott, n int) float64 {
	piB := g.P / (g.P + g.R)
	piG := 1 - piB
	l := g.StationaryLoss()
	lambda := 1 - g.P - g.R
	dh := g.lossBad() - g.LossGood
	v := l*(1-l) + 2*dh*dh*piG*piB*lambda/(1-lambda)
	return math.Sqrt(v / float64(n))
}

func TestGilbertElliottLoss(t *testing.T) {
	tests := []struct {
		name    string
		g       GilbertElliott
		gilbert bool // LossGood 0, LossBad 1: bursts are the bad-state stays
	}{
		{"gilbert mean burst 4", GilbertElliott{P: 0.01, R: 0.25}, true},
		{"gilbert short bursts", GilbertElliott{P: 0.05, R: 0.7}, true},
		{"gilbert-elliott", GilbertElliott{P: 0.05, R: 0.3, LossGood: 0.01, LossBad: 0.6}, false},
		{"anti-persistent", GilbertElliott{P: 0.8, R: 0.9, LossGood: 0.1, LossBad: 0.5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lost, s := lossPattern(t, Config{Burst: tt.g, Seed: 2})
			rate := float64(s.DroppedBurst) / n
			want, sd := tt.g.StationaryLoss(), markovSD(tt.g, n)
			if math.Abs(rate-want) > 4*sd {
				t.Errorf("loss rate %.5f, want %.5f +- %.5f (4 sd)", rate, want, 4*sd)
			}
			if s.DroppedLoss != 0 {
				t.Errorf("independent drops with only Burst set: %+v", s)
			}
			if !tt.gilbert {
				return
			}
			// A stay in the bad state is geometric: mean 1/R, sd
			// sqrt(1-R)/R per burst, so the mean of k bursts has sd
			// sqrt(1-R)/(R sqrt(k)).
			runs, total := bursts(lost)
			mean := float64(total) / float64(runs)
			r := tt.g.R
			bsd := math.Sqrt(1-r) / r / math.Sqrt(float64(runs))
			if math.Abs(mean-1/r) > 4*bsd {
				t.Errorf("mean burst %.3f over %d bursts, want %.3f +- %.3f (4 sd)", mean, runs, 1/r, 4*bsd)
			}
		})
	}
}

func TestBurstsAreLongerThanIndependent(t *testing.T) {
	// Same loss rate, 4%: independent loss has mean run 1/(1-0.04) ~ 1.04,
	// the Gilbert chain with R = 0.25 has 4.
	g := GilbertElliott{P: 0.01, R: 0.24}
	li, _ := lossPattern(t, Config{Loss: g.StationaryLoss(), Seed: 3})
	lb, _ := lossPattern(t, Config{Burst: g, Seed: 3})
	ri, ti := bursts(li)
	rb, tb := bursts(lb)
	if mi, mb := float64(ti)/float64(ri), float64(tb)/float64(rb); mb < 3*mi {
		t.Fatalf("mean run: bursty %.2f vs independent %.2f; want bursts clearly longer", mb, mi)
	}
}

func TestDuplicateCorruptReorderRates(t *testing.T) {
	const dup, cor, reo = 0.03, 0.02, 0.05
	l := mustNew(t, Config{Duplicate: dup, Corrupt: cor, Reorder: reo, Delay: 10e6, Seed: 4})
	var fates []Fate
	var bitSum float64
	var corrupted uint64
	for i := range n {
		size := 1 + i%1400
		fates = l.Decide(fates[:0], at(int64(i)*1000), size)
		if len(fates) != 1 && len(fates) != 2 {
			t.Fatalf("datagram %d: %d fates with no loss configured", i, len(fates))
		}
		for _, f := range fates {
			if f.Bit == -1 {
				continue
			}
			if f.Bit < 0 || f.Bit >= size*8 {
				t.Fatalf("datagram %d of %d bytes: bit %d out of range", i, size, f.Bit)
			}
			corrupted++
			bitSum += (float64(f.Bit) + 0.5) / float64(size*8)
		}
	}
	s := l.Stats()
	checkConservation(t, s)
	within(t, "duplicated", s.Duplicated, n, dup)
	within(t, "corrupted", s.Corrupted, s.Delivered, cor)
	within(t, "reordered", s.Reordered, s.Delivered, reo)
	if corrupted != s.Corrupted {
		t.Fatalf("fates flip %d bits, Stats says %d", corrupted, s.Corrupted)
	}
	// The bit is uniform over the datagram: its relative position has mean
	// 1/2 and variance about 1/12.
	mean, sd := bitSum/float64(corrupted), math.Sqrt(1.0/12/float64(corrupted))
	if math.Abs(mean-0.5) > 4*sd {
		t.Errorf("mean relative bit position %.4f, want 0.5 +- %.4f", mean, 4*sd)
	}
}

func TestFlipBit(t *testing.T) {
	tests := []struct {
		name string
		bit  int
		want []byte
	}{
		{"none", -1, []byte{0, 0, 0}},
		{"lowest", 0, []byte{1, 0, 0}},
		{"top of first byte", 7, []byte{0x80, 0, 0}},
		{"second byte", 9, []byte{0, 2, 0}},
		{"last", 23, []byte{0, 0, 0x80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, 3)
			FlipBit(b, tt.bit)
			if string(b) != string(tt.want) {
				t.Fatalf("FlipBit(%d) = %x, want %x", tt.bit, b, tt.want)
			}
		})
	}
}
