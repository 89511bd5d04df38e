package transports

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func TestProfileName(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"slash", "BenchmarkTransfer/petrel-gnet", "BenchmarkTransfer_petrel-gnet"},
		{"percent", "BenchmarkLossMatrix/loss0.1%-rtt20ms/quic-go", "BenchmarkLossMatrix_loss0.1%-rtt20ms_quic-go"},
		{"kept", "Aa0._%=-", "Aa0._%=-"},
		{"space and colon", "a b:c", "a_b_c"},
		{"multibyte", "p50-µs", "p50-__s"}, // µ is two bytes in UTF-8, each replaced
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProfileName(tc.in); got != tc.want {
				t.Fatalf("ProfileName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// setFlag sets a flag variable for the test and restores it after.
func setFlag(t *testing.T, v *string, to string) {
	old := *v
	*v = to
	t.Cleanup(func() { *v = old })
}

// TestCPUProfile: with -petrel.cpuprofile set, a run writes a non-empty
// profile (gzip-compressed protobuf, so it starts with gzip's magic) named
// after the test; without it, nothing is written.
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	setFlag(t, cpuProfileDir, dir)
	stop := StartCPUProfile(t)
	sum := sha256.Sum256(nil)
	for range 20000 { // some CPU for the profiler to see; bounded
		sum = sha256.Sum256(sum[:])
	}
	stop()
	b, err := os.ReadFile(filepath.Join(dir, "TestCPUProfile.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || !bytes.Equal(b[:2], []byte{0x1f, 0x8b}) {
		t.Fatalf("profile of %d bytes, not gzip: %q", len(b), b[:min(len(b), 8)])
	}

	setFlag(t, cpuProfileDir, "")
	StartCPUProfile(t)()
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the profile directory without the flag, want the 1 from before", len(ents))
	}
}

// TestWriteLatency: the file has the header, at least 100 rows, percentiles
// rising from 0 to 100 and latencies that never fall.
func TestWriteLatency(t *testing.T) {
	dir := t.TempDir()
	setFlag(t, latencyDir, dir)
	h := hdrhistogram.New(1, 1e9, 3)
	for v := int64(1); v <= 100000; v++ {
		_ = h.RecordValue(v * 1000) // 1 µs to 100 ms
	}
	if err := WriteLatency("BenchmarkMessages/64B/quic-go", h); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "BenchmarkMessages_64B_quic-go.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 101 || rows[0][0] != "percentile" || rows[0][1] != "micros" {
		t.Fatalf("%d rows, header %q: want the header percentile,micros and at least 100 rows", len(rows), rows[0])
	}
	if first, _ := strconv.ParseFloat(rows[1][1], 64); first < 0.999 || first > 1.001 {
		t.Fatalf("p0 = %s µs, want the least value recorded, 1 µs", rows[1][1])
	}
	var lastP, lastV float64 = -1, 0
	for _, r := range rows[1:] {
		p, err1 := strconv.ParseFloat(r[0], 64)
		v, err2 := strconv.ParseFloat(r[1], 64)
		if err1 != nil || err2 != nil || p <= lastP || v < lastV {
			t.Fatalf("row %q after percentile %g, %g µs: want numbers, percentiles rising, latencies not falling", r, lastP, lastV)
		}
		lastP, lastV = p, v
	}
	if first := rows[1][0]; first != "0" || lastP != 100 {
		t.Fatalf("percentiles from %s to %g, want 0 to 100", first, lastP)
	}
	if lastV < 99000 || lastV > 101000 {
		t.Fatalf("p100 = %g µs, want the largest value recorded, 100 ms", lastV)
	}
}
