package transports

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The flags every end-to-end benchmark binary accepts (they are registered
// when this package loads, so before the test binary parses its flags).
var (
	cpuProfileDir = flag.String("petrel.cpuprofile", "", "write a CPU profile of each end-to-end sub-benchmark's timed run to `DIR`/<name>.pprof (the last run of a sub-benchmark, its largest b.N, overwrites the earlier ones)")
	latencyDir    = flag.String("petrel.latency", "", "write the round-trip latency distribution of each BenchmarkMessages sub-benchmark to `DIR`/<name>.csv (percentile,micros)")
)

// ProfileName maps a benchmark's name (b.Name()) to the base of its
// profile and latency files: every byte outside [A-Za-z0-9._%=-] becomes
// '_', so "BenchmarkTransfer/petrel-gnet" is
// "BenchmarkTransfer_petrel-gnet". bench/report applies the same rule to
// find the files.
func ProfileName(name string) string {
	var sb strings.Builder
	sb.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '%', c == '=', c == '-':
			sb.WriteByte(c)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

// StartCPUProfile starts a CPU profile of the calling benchmark into
// -petrel.cpuprofile's DIR/<ProfileName(b.Name())>.pprof, if the flag is
// set, and returns what stops it and closes the file; call it right after
// the timed part (b.StopTimer), so the profile covers what was measured.
// Without the flag it does nothing. A profile that cannot start (another
// one runs, e.g. under go test -cpuprofile) fails the benchmark: a run
// asked for profiles must not silently lack one.
func StartCPUProfile(b testing.TB) (stop func()) {
	if *cpuProfileDir == "" {
		return func() {}
	}
	path := filepath.Join(*cpuProfileDir, ProfileName(b.Name())+".pprof")
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("cpu profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		b.Fatalf("cpu profile %s: %v", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Errorf("cpu profile %s: %v", path, err)
		}
	}
}

// latencyPercentiles are the rows of a latency file: every whole
// percentile from 0 to 99, then the tail in finer steps up to 100.
var latencyPercentiles = func() []float64 {
	var ps []float64
	for p := range 100 {
		ps = append(ps, float64(p))
	}
	for t := 991; t <= 999; t++ {
		ps = append(ps, float64(t)/10)
	}
	return append(ps, 99.95, 99.99, 99.999, 100)
}()

// WriteLatency writes h, a histogram of round trips in nanoseconds, to
// -petrel.latency's DIR/<ProfileName(name)>.csv, if the flag is set: the
// header "percentile,micros", then one row per percentile of
// latencyPercentiles (more than 100 rows, 0 to 100). Without the flag it
// does nothing and returns nil.
func WriteLatency(name string, h *hdrhistogram.Histogram) error {
	if *latencyDir == "" {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("percentile,micros\n")
	for _, p := range latencyPercentiles {
		v := h.ValueAtQuantile(p)
		if p == 0 {
			v = h.Min() // ValueAtQuantile(0) is 0, not the least value recorded
		}
		fmt.Fprintf(&sb, "%g,%.3f\n", p, float64(v)/1e3)
	}
	return os.WriteFile(filepath.Join(*latencyDir, ProfileName(name)+".csv"), []byte(sb.String()), 0o644)
}
