package congestion

import (
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// fixedRate is a RateSource a test sets at will.
type fixedRate struct{ r atomic.Uint64 }

func newFixedRate(r uint64) *fixedRate {
	f := &fixedRate{}
	f.r.Store(r)
	return f
}

func (f *fixedRate) PacingRate() uint64 { return f.r.Load() }

func newTestPacer(t testing.TB, src RateSource, cfg PacerConfig) *Pacer {
	t.Helper()
	p, err := NewPacer(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPacerConfig(t *testing.T) {
	tests := []struct {
		name string
		src  RateSource
		cfg  PacerConfig
		ok   bool
	}{
		{"defaults", newFixedRate(1), PacerConfig{}, true},
		{"nil source", nil, PacerConfig{}, false},
		{"granularity too long", newFixedRate(1), PacerConfig{TimerGranularity: time.Minute}, false},
		{"negative granularity", newFixedRate(1), PacerConfig{TimerGranularity: -1}, false},
		{"datagram too big", newFixedRate(1), PacerConfig{MaxDatagramSize: 1 << 20}, false},
		{"burst too big", newFixedRate(1), PacerConfig{BurstPackets: 1 << 20}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPacer(tt.src, tt.cfg)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestPacerBurstThenRate(t *testing.T) {
	const rate = 1_200_000 // 1000 datagrams/s: one per ms
	p := newTestPacer(t, newFixedRate(rate), PacerConfig{})
	now := testStart
	// The bucket starts full: 10 datagrams go at once (RFC 9002 section 7.7).
	if p.Budget(now) != 12000 || p.MaxBurst(rate) != 12000 {
		t.Fatalf("budget %d max burst %d", p.Budget(now), p.MaxBurst(rate))
	}
	for i := range 10 {
		if next := p.NextSendTime(now, 1200); next != now {
			t.Fatalf("burst packet %d delayed to %v", i, next.Sub(now))
		}
		p.OnPacketSent(now, 1200)
	}
	// Then one datagram per 1200/rate = 1 ms, exactly.
	for i := range 100 {
		next := p.NextSendTime(now, 1200)
		if d := next.Sub(now); d != time.Millisecond {
			t.Fatalf("packet %d: wait %v, want 1ms", i, d)
		}
		if p.NextSendTime(next.Add(-1), 1200) == next.Add(-1) {
			t.Fatalf("packet %d allowed 1ns early", i)
		}
		now = next
		p.OnPacketSent(now, 1200)
	}
}

// TestPacerLongRunRate sends as early as allowed with odd sizes and checks
// that, after the initial burst, bytes/time equals the rate (no drift from
// rounding).
func TestPacerLongRunRate(t *testing.T) {
	const rate = 3_333_333
	p := newTestPacer(t, newFixedRate(rate), PacerConfig{})
	now := testStart
	var sent uint64
	burst := p.MaxBurst(rate)
	for i := range 20000 {
		size := uint64(1000 + i%201)
		now = p.NextSendTime(now, size)
		p.OnPacketSent(now, size)
		sent += size
	}
	elapsed := now.Sub(testStart).Seconds()
	want := float64(sent-burst) / rate
	if math.Abs(elapsed-want) > 1201.0/rate {
		t.Fatalf("%d bytes took %.6fs, want %.6fs (rate %d)", sent, elapsed, want, rate)
	}
}

func TestPacerBurstBound(t *testing.T) {
	tests := []struct {
		name string
		rate uint64
		want uint64
	}{
		{"slow link: 10 datagrams", 100_000, 12000},
		{"fast link: one granularity of bytes", 1_000_000_000, 1_000_000}, // 1 GB/s * 1 ms
		{"absurd rate stays finite", math.MaxUint64, math.MaxUint64 / 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPacer(t, newFixedRate(tt.rate), PacerConfig{})
			if got := p.MaxBurst(tt.rate); got != tt.want {
				t.Fatalf("MaxBurst %d, want %d", got, tt.want)
			}
			p.OnPacketSent(testStart, 1200)
			// After an hour idle the budget is still one burst, not more.
			if got := p.Budget(testStart.Add(time.Hour)); got != min(tt.want, math.MaxUint64/uint64(time.Second)) {
				t.Fatalf("budget after idle %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPacerRateChangeAndZero(t *testing.T) {
	src := newFixedRate(1_200_000)
	p := newTestPacer(t, src, PacerConfig{BurstPackets: 1})
	now := testStart
	p.OnPacketSent(now, 1200) // bucket empty
	if d := p.NextSendTime(now, 1200).Sub(now); d != time.Millisecond {
		t.Fatalf("wait %v at 1.2 MB/s", d)
	}
	src.r.Store(12_000_000)
	if d := p.NextSendTime(now, 1200).Sub(now); d != 100*time.Microsecond {
		t.Fatalf("wait %v at 12 MB/s", d)
	}
	src.r.Store(0) // unpaced
	if next := p.NextSendTime(now, 1<<20); next != now {
		t.Fatalf("zero rate paced to %v", next.Sub(now))
	}
	// A packet larger than the bucket goes once the bucket is full.
	src.r.Store(1_200_000)
	p.OnPacketSent(now, 1200)
	if d := p.NextSendTime(now, 5000).Sub(now); d != time.Millisecond {
		t.Fatalf("oversized packet waits %v, want the 1ms to fill the 1200-byte bucket", d)
	}
	// Time running backwards (never from monotime) neither refills nor panics.
	if p.Budget(now.Add(-time.Second)) != 0 {
		t.Fatal("budget from the past")
	}
}

// TestPacerWithController paces a CUBIC's rate: 1.25 * cwnd / srtt.
func TestPacerWithController(t *testing.T) {
	c := newTestCubic(t, CubicConfig{})
	rtt := NewRTT(0)
	rtt.Update(100*ms, 0)
	c.OnAck(testStart, testStart.Add(-100*ms), 1200, 12000, &rtt)
	p := newTestPacer(t, c, PacerConfig{})
	want := uint64(1.25 * 13200 / 0.1) // 165000 B/s
	if c.PacingRate() != want {
		t.Fatalf("CUBIC rate %d, want %d", c.PacingRate(), want)
	}
	now := monotime.Time(testStart)
	for range 11 {
		now = p.NextSendTime(now, 1200)
		p.OnPacketSent(now, 1200)
	}
	// 10 go at once, the 11th waits 1200/165000 s.
	if got, want := now.Sub(testStart), time.Duration(math.Ceil(1200e9/165000)); got != want {
		t.Fatalf("11th packet after %v, want %v", got, want)
	}
}

func TestPacerAllocs(t *testing.T) {
	c := newTestCubic(t, CubicConfig{})
	p := newTestPacer(t, c, PacerConfig{})
	now := testStart
	if n := testing.AllocsPerRun(1000, func() {
		now = p.NextSendTime(now, 1200)
		p.OnPacketSent(now, 1200)
		_ = p.Budget(now)
	}); n != 0 {
		t.Fatalf("pacer allocates %v per packet", n)
	}
}

func BenchmarkPacer(b *testing.B) {
	c, err := NewCubic(CubicConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPacer(c, PacerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := testStart
	b.ReportAllocs()
	for b.Loop() {
		now = p.NextSendTime(now, 1200)
		p.OnPacketSent(now, 1200)
	}
}

// TestPacerHugeRateWait: with the bucket empty, a packet waits the ceiling
// of its deficit over the rate, at least 1 ns, however large the rate (a
// FixedRate configured with math.MaxUint64 as "unlimited"). The ceiling must
// not overflow: (deficit + rate - 1) wraps for rates near 2^64 and gave a
// wait of 0, so NextSendTime said "now" while Budget(now) said 0.
func TestPacerHugeRateWait(t *testing.T) {
	for _, rate := range []uint64{1<<63 + 1, math.MaxUint64 - 1, math.MaxUint64} {
		t.Run(strconv.FormatUint(rate, 10), func(t *testing.T) {
			p := newTestPacer(t, newFixedRate(rate), PacerConfig{})
			now := testStart
			p.OnPacketSent(now, math.MaxUint64) // larger than any bucket: empties it
			if b := p.Budget(now); b != 0 {
				t.Fatalf("budget %d after emptying the bucket", b)
			}
			if next := p.NextSendTime(now, 1200); next != now.Add(1) {
				t.Fatalf("rate %d: next send after %v, want 1ns (ceil(1200e9/rate))", rate, next.Sub(now))
			}
			if next := p.NextSendTime(now.Add(1), 1200); next != now.Add(1) {
				t.Fatalf("rate %d: 1ns later the packet still waits %v", rate, next.Sub(now.Add(1)))
			}
		})
	}
}
