package wire

import (
	"math"
	"reflect"
	"testing"
)

func parseAck1(t *testing.T, b []byte) AckFrame {
	t.Helper()
	var p FrameParser
	p.Reset(b)
	f, err := p.Next()
	if err != nil || f.Type != FrameAck {
		t.Fatalf("parse %x: %v %v", b, f.Type, err)
	}
	return f.Ack
}

func rangesOf(a *AckFrame) []AckRange {
	var out []AckRange
	it := a.Ranges()
	for r, ok := it.Next(); ok; r, ok = it.Next() {
		out = append(out, r)
	}
	return out
}

func TestAckEncode(t *testing.T) {
	// With a delay of 25000 us (4 bytes) the three ranges take
	// 1+2+4+1+1 = 9 bytes for the first and 2+3 for the pairs.
	three := []AckRange{{90, 100}, {70, 80}, {0, 0}}
	tests := []struct {
		name   string
		ranges []AckRange
		budget int
		want   int // ranges encoded
	}{
		{"none", nil, 100, 0},
		{"all fit", three, 100, 3},
		{"exact budget", three, 14, 3},
		{"one byte short drops the last", three, 13, 2},
		{"only the first", three, 10, 1},
		{"not even the first", three, 8, 0},
		{"single packet 0", []AckRange{{0, 0}}, 8, 1},
		{"first inverted", []AckRange{{5, 4}}, 100, 0},
		{"first beyond 2^62-1", []AckRange{{0, MaxVarint + 1}}, 100, 0},
		{"adjacent ranges stop", []AckRange{{90, 100}, {80, 89}}, 100, 1},
		{"overlapping ranges stop", []AckRange{{90, 100}, {80, 95}}, 100, 1},
		{"ascending stops", []AckRange{{10, 20}, {30, 40}}, 100, 1},
		{"inverted second stops", []AckRange{{90, 100}, {80, 70}, {0, 1}}, 100, 1},
		{"gap of one missing", []AckRange{{90, 100}, {80, 88}}, 100, 2},
		{"first at 1 then nothing fits below", []AckRange{{1, 5}, {0, 0}}, 100, 1},
		{"largest 2^62-1", []AckRange{{MaxVarint - 3, MaxVarint}, {0, 10}}, 100, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, n := AppendAckFrame([]byte{0xee}, tt.ranges, 25_000, tt.budget)
			if n != tt.want {
				t.Fatalf("encoded %d ranges, want %d (%x)", n, tt.want, b)
			}
			if n == 0 {
				if len(b) != 1 {
					t.Fatalf("nothing encoded but dst grew: %x", b)
				}
				return
			}
			if len(b)-1 > tt.budget {
				t.Fatalf("frame of %d bytes over budget %d", len(b)-1, tt.budget)
			}
			a := parseAck1(t, b[1:])
			if got := rangesOf(&a); !reflect.DeepEqual(got, tt.ranges[:n]) {
				t.Fatalf("parsed ranges %v, want %v", got, tt.ranges[:n])
			}
			if a.RangeCount() != n || a.Largest != tt.ranges[0].Largest || a.DelayMicros != 25_000 {
				t.Fatalf("parsed %+v", a)
			}
		})
	}
}

func TestAckBudgetMaximal(t *testing.T) {
	// For every budget the encoder takes the longest prefix that fits:
	// one more range would not.
	ranges := benchRanges()
	for budget := 0; budget < 200; budget++ {
		b, n := AppendAckFrame(nil, ranges, 1<<20, budget)
		if len(b) > budget {
			t.Fatalf("budget %d: wrote %d", budget, len(b))
		}
		if n < len(ranges) {
			if b2, _ := AppendAckFrame(nil, ranges[:n+1], 1<<20, math.MaxInt); len(b2) <= budget {
				t.Fatalf("budget %d: encoded %d ranges, but %d fit in %d bytes", budget, n, n+1, len(b2))
			}
		}
	}
}

func TestAckIterators(t *testing.T) {
	ranges := benchRanges()
	b, n := AppendAckFrame(nil, ranges, 0, math.MaxInt)
	if n != 32 {
		t.Fatalf("encoded %d", n)
	}
	a := parseAck1(t, b)
	if got := rangesOf(&a); !reflect.DeepEqual(got, ranges) {
		t.Fatalf("Ranges: %v\nwant %v", got, ranges)
	}
	var got []AckRange
	for r := range a.All() {
		got = append(got, r)
		if len(got) == 5 {
			break // All stops when the loop does
		}
	}
	if !reflect.DeepEqual(got, ranges[:5]) {
		t.Fatalf("All: %v", got)
	}
	var zero AckFrame
	if zero.RangeCount() != 0 || rangesOf(&zero) != nil {
		t.Fatal("zero AckFrame has ranges")
	}
	// A hand-made AckFrame (only Largest set) yields nothing rather than
	// garbage.
	hand := AckFrame{Largest: 10}
	if rangesOf(&hand) != nil {
		t.Fatal("hand-made AckFrame has ranges")
	}
}
