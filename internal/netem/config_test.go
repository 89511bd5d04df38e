package netem

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func mustNew(t testing.TB, cfg Config) *Link {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

func TestConfigValidation(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"zero", Config{}, ""},
		{"everything", Config{Loss: 0.1, Delay: 10 * ms, Jitter: 10 * ms, Reorder: 0.1, Duplicate: 0.1, Corrupt: 0.1, Rate: 1e6, QueueBytes: 1500, Seed: 7}, ""},
		{"burst", Config{Burst: GilbertElliott{P: 0.01, R: 0.5}}, ""},
		{"burst full", Config{Burst: GilbertElliott{P: 0.01, R: 0.5, LossGood: 0.001, LossBad: 0.7}}, ""},
		{"certain loss", Config{Loss: 1}, ""},
		{"negative loss", Config{Loss: -0.1}, "Loss"},
		{"loss above one", Config{Loss: 1.5}, "Loss"},
		{"NaN loss", Config{Loss: math.NaN()}, "Loss"},
		{"NaN duplicate", Config{Duplicate: math.NaN()}, "Duplicate"},
		{"corrupt above one", Config{Corrupt: 2}, "Corrupt"},
		{"burst R above one", Config{Burst: GilbertElliott{P: 0.1, R: 1.1}}, "Burst.R"},
		{"both loss models", Config{Loss: 0.1, Burst: GilbertElliott{P: 0.1, R: 0.5}}, "both"},
		{"burst without P", Config{Burst: GilbertElliott{R: 0.5, LossGood: 0.1}}, "Burst.P"},
		{"burst without R", Config{Burst: GilbertElliott{P: 0.1}}, "Burst.R"},
		{"negative delay", Config{Delay: -ms}, "Delay"},
		{"huge delay", Config{Delay: 2 * time.Hour}, "Delay"},
		{"jitter above delay", Config{Delay: ms, Jitter: 2 * ms}, "Jitter"},
		{"negative jitter", Config{Delay: ms, Jitter: -1}, "Jitter"},
		{"reorder without delay", Config{Reorder: 0.1}, "Reorder"},
		{"negative rate", Config{Rate: -1}, "Rate"},
		{"negative queue", Config{Rate: 1e6, QueueBytes: -1}, "QueueBytes"},
		{"queue without rate", Config{QueueBytes: 1500}, "QueueBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("New accepted %+v; want an error naming %s", tt.cfg, tt.want)
			case tt.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New: %v; want ErrConfig naming %s", err, tt.want)
			}
			if _, perr := NewPipe(tt.cfg); (perr == nil) != (err == nil) {
				t.Fatalf("NewPipe and New disagree: %v vs %v", perr, err)
			}
		})
	}
}

func TestQueueLimitDefault(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want int64
	}{
		{"no rate", Config{}, 0},
		{"explicit", Config{Rate: 1e6, QueueBytes: 3000}, 3000},
		{"floor without delay", Config{Rate: 1e9}, MinQueueBytes},
		{"floor for a small BDP", Config{Rate: 1e6, Delay: time.Millisecond}, MinQueueBytes},
		// 12.5 MB/s (100 Mbit/s) and 20 ms each way: 12.5e6 * 0.040 = 500,000.
		{"bandwidth-delay product", Config{Rate: 12_500_000, Delay: 20 * time.Millisecond}, 500_000},
		{"no overflow", Config{Rate: math.MaxInt64, Delay: MaxDelay}, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustNew(t, tt.cfg).QueueLimit(); got != tt.want {
				t.Fatalf("QueueLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStationaryLoss(t *testing.T) {
	tests := []struct {
		name string
		g    GilbertElliott
		want float64
	}{
		{"zero", GilbertElliott{}, 0},
		{"gilbert", GilbertElliott{P: 0.01, R: 0.24}, 0.04},
		{"elliott", GilbertElliott{P: 0.1, R: 0.3, LossGood: 0.02, LossBad: 0.5}, 0.75*0.02 + 0.25*0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.StationaryLoss(); math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("StationaryLoss = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestZeroConfigImpairsNothing: the zero Config delivers every datagram once,
// intact, at the instant it was offered.
func TestZeroConfigImpairsNothing(t *testing.T) {
	l := mustNew(t, Config{})
	var fates []Fate
	for i := range 1000 {
		now := at(int64(i) * 37)
		fates = l.Decide(fates[:0], now, i%1500)
		if len(fates) != 1 || fates[0] != (Fate{At: now, Bit: -1}) {
			t.Fatalf("datagram %d at %d: fates %v", i, now, fates)
		}
	}
	s := l.Stats()
	if s.Sent != 1000 || s.Delivered != 1000 || s.SentBytes != s.DeliveredBytes {
		t.Fatalf("stats %+v", s)
	}
}
