package wire

import (
	"bytes"
	"testing"
)

// BenchmarkDecode parses the short header of a 1200-byte packet and
// iterates all its frames: an ACK of 32 ranges (every range walked) and a
// STREAM frame filling the rest. It must report 0 allocs/op.
func BenchmarkDecode(b *testing.B) {
	pkt := encodeBenchPacket(nil, benchRanges(), bytes.Repeat([]byte{0x5a}, benchSize))
	var p FrameParser
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	var sum uint64
	for b.Loop() {
		s, err := decodeBenchPacket(&p, pkt)
		if err != nil {
			b.Fatal(err)
		}
		sum += s
	}
	if sum == 0 {
		b.Fatal("nothing decoded")
	}
}

// BenchmarkEncode writes the same packet into a preallocated buffer:
// header, ACK from 32 ranges under a byte budget, STREAM frame sized with
// StreamDataRoom, tag room, then PutLength.
func BenchmarkEncode(b *testing.B) {
	ranges := benchRanges()
	data := bytes.Repeat([]byte{0x5a}, benchSize)
	buf := make([]byte, 0, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeBenchPacket(buf, ranges, data)
	}
	if len(buf) != benchSize {
		b.Fatalf("packet of %d bytes", len(buf))
	}
}
