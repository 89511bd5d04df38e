package batchio

import (
	"bytes"
	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"testing"
)

func TestSegmentSplit(t *testing.T) {
	tests := []struct {
		name   string
		n, seg int
		want   []int // datagram lengths
	}{
		{"not coalesced", 1200, 0, []int{1200}},
		{"segment size above length", 1200, 1500, []int{1200}},
		{"exact multiple", 3600, 1200, []int{1200, 1200, 1200}},
		{"short tail", 3000, 1200, []int{1200, 1200, 600}},
		{"one byte tail", 2401, 1200, []int{1200, 1200, 1}},
		{"empty datagram", 0, 0, []int{0}},
		{"equal to segment", 1200, 1200, []int{1200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for off := 0; ; {
				end := segmentEnd(tt.n, tt.seg, off)
				got = append(got, end-off)
				off = end
				if off >= tt.n {
					break
				}
			}
			if len(got) != len(tt.want) || segmentCount(tt.n, tt.seg) != len(tt.want) {
				t.Fatalf("cut into %v (count %d), want %v", got, segmentCount(tt.n, tt.seg), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("cut into %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// FuzzGROSplit checks the GRO cut against a slow reference: the datagrams
// are in bounds, cover the receive exactly in order, all but the last have
// the segment size, and their number is segmentCount.
func FuzzGROSplit(f *testing.F) {
	fuzzseed.Add(f, uint16(3000), int32(1200))
	fuzzseed.Add(f, uint16(0), int32(0))
	fuzzseed.Add(f, uint16(65527), int32(1))
	fuzzseed.Add(f, uint16(100), int32(-5))
	f.Fuzz(func(t *testing.T, n uint16, seg int32) {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i * 13)
		}
		// Reference: cut with bytes, the obvious way.
		var ref [][]byte
		if seg <= 0 || int(seg) >= len(buf) {
			ref = [][]byte{buf}
		} else {
			for rest := buf; len(rest) > 0; {
				k := min(int(seg), len(rest))
				ref = append(ref, rest[:k])
				rest = rest[k:]
			}
		}
		var got [][]byte
		for off := 0; ; {
			end := segmentEnd(len(buf), int(seg), off)
			if end < off || end > len(buf) || (end == off && len(buf) > 0) {
				t.Fatalf("segmentEnd(%d, %d, %d) = %d", len(buf), seg, off, end)
			}
			got = append(got, buf[off:end])
			off = end
			if off >= len(buf) {
				break
			}
		}
		if len(got) != len(ref) || segmentCount(len(buf), int(seg)) != len(ref) {
			t.Fatalf("%d datagrams (count %d), reference %d", len(got), segmentCount(len(buf), int(seg)), len(ref))
		}
		for i := range ref {
			if !bytes.Equal(got[i], ref[i]) {
				t.Fatalf("datagram %d differs from the reference", i)
			}
		}
	})
}
