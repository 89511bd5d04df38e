package wire

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var writeSeeds = flag.Bool("wire.seeds", false, "rewrite the committed fuzz seed corpus under testdata/fuzz")

// TestWriteSeedCorpus writes the committed seeds of every fuzzer, built
// with the package's encoders: go test -run TestWriteSeedCorpus -wire.seeds.
// Files found by fuzzing (regressions) live beside them and are kept.
func TestWriteSeedCorpus(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -wire.seeds to rewrite testdata/fuzz")
	}
	pkt := encodeBenchPacket(nil, benchRanges(), make([]byte, benchSize))
	small := shortPacket(ShortHeader{DCID: testCID, PN: 0x1234, PNLen: 2, KeyPhase: true}, 40)
	var payload []byte
	for _, tt := range frameCases() {
		if tt.prefixesFail {
			payload = append(payload, tt.enc...)
		}
	}
	payload = AppendStreamFrame(payload, 4, 1000, []byte("last"), true, false)
	params := mustHandshake()[2:]
	handshake := []byte{FormHandshake | FixedBit, 1, 2, 3, 4, 5, 6, 7, 8, 9}

	seeds := map[string][][]any{
		"FuzzParsePacket": {{pkt}, {small}, {concat(small, pkt)}},
		"FuzzFrames":      {{payload}, {pkt[ShortHeaderLen(2) : len(pkt)-TagLen]}, {mustHandshake()}},
		"FuzzRoundTrip": {
			{uint8(2), uint64(1_000_000), uint64(25_000), uint64(0), []byte{3, 1, 4, 1, 5, 9, 2, 6}, false},
			{uint8(3), uint64(4), uint64(1 << 20), uint64(0), []byte("stream data"), true},
			{uint8(8), uint64(7), uint64(0), uint64(0), []byte("closing"), false},
			{uint8(9), uint64(30_000), uint64(252), uint64(100), testCID[:], false},
			{uint8(10), uint64(0x1234_5678), uint64(1181), uint64(0), []byte{1, 2, 3, 4, 5, 6, 7, 8}, true},
			{uint8(11), uint64(MaxStreamsLimit), uint64(0), uint64(0), []byte{}, false},
			{uint8(11), uint64(MaxStreamsLimit + 1), uint64(0), uint64(0), []byte{}, false},
		},
		"FuzzDecodePacketNumber": {
			{uint64(0xa82f30ea), uint64(0x9b32), uint8(3)},
			{NoPacketReceived, uint64(0), uint8(2)},
			{uint64(MaxVarint - 1), uint64(0xff), uint8(2)},
		},
		"FuzzTransportParams": {{params}, {concat([]byte{0x3f, 2, 1, 2}, params)}},
		"FuzzSplit":           {{concat(small, small, pkt)}, {concat(small, handshake)}, {handshake}},
	}
	for name, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, args := range list {
			var sb strings.Builder
			sb.WriteString("go test fuzz v1\n")
			for _, a := range args {
				switch v := a.(type) {
				case []byte:
					fmt.Fprintf(&sb, "[]byte(%q)\n", v)
				case uint8:
					fmt.Fprintf(&sb, "byte(%q)\n", v)
				case uint64:
					fmt.Fprintf(&sb, "uint64(%d)\n", v)
				case bool:
					fmt.Fprintf(&sb, "bool(%v)\n", v)
				default:
					t.Fatalf("seed type %T", a)
				}
			}
			file := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
			if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
