package wire

import (
	"bytes"
	"testing"
)

// The zero-allocation promises of doc.go, as tests (DESIGN.md: the
// per-packet path allocates nothing).
func TestZeroAllocs(t *testing.T) {
	ranges := benchRanges()
	data := bytes.Repeat([]byte{0x5a}, benchSize)
	pkt := encodeBenchPacket(make([]byte, 0, benchSize), ranges, data)
	if len(pkt) != benchSize {
		t.Fatalf("bench packet is %d bytes, want %d", len(pkt), benchSize)
	}
	buf := make([]byte, 0, benchSize)
	ctl := make([]byte, 0, 16)
	var p FrameParser
	tests := []struct {
		name string
		f    func()
	}{
		{"ParseShortHeader", func() {
			if _, _, err := ParseShortHeader(pkt); err != nil {
				t.Fatal(err)
			}
		}},
		{"SplitPacket", func() {
			if _, _, err := SplitPacket(pkt); err != nil {
				t.Fatal(err)
			}
		}},
		{"decode packet", func() {
			if _, err := decodeBenchPacket(&p, pkt); err != nil {
				t.Fatal(err)
			}
		}},
		{"ACK ranges via All", func() {
			h, hdrLen, _ := ParseShortHeader(pkt)
			p.Reset(pkt[hdrLen : hdrLen-h.PNLen+h.Length])
			f, _ := p.Next()
			n := 0
			for range f.Ack.All() {
				n++
			}
			if n != 32 {
				t.Fatalf("%d ranges", n)
			}
		}},
		{"MAX_STREAMS", func() {
			ctl = AppendMaxStreamsFrame(ctl[:0], MaxStreamsLimit)
			p.Reset(ctl)
			if f, err := p.Next(); err != nil || f.MaxStreams != MaxStreamsLimit {
				t.Fatalf("%+v %v", f, err)
			}
		}},
		{"AppendPadding", func() {
			buf = AppendPadding(buf[:0], benchSize)
		}},
		{"encode packet", func() {
			buf = encodeBenchPacket(buf, ranges, data)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.f); n != 0 {
				t.Fatalf("%v allocs per run, want 0", n)
			}
		})
	}
	if !bytes.Equal(buf, pkt) {
		t.Fatal("encoding into the preallocated buffer differs")
	}
	// The packet holds what the benchmarks claim: an ACK of 32 ranges and
	// a STREAM frame filling the rest.
	h, hdrLen, _ := ParseShortHeader(pkt)
	frames, err := parseAll(pkt[hdrLen : hdrLen-h.PNLen+h.Length-TagLen])
	if err != nil || len(frames) != 2 || len(frames[0].AckRanges) != 32 || frames[1].Type != FrameStream {
		t.Fatalf("bench packet frames: %v %+v", err, frames)
	}
}
