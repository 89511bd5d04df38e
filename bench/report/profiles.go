package main

// Where petrel's time goes: the CPU profiles of the profiling pass (one
// extra run of the end-to-end benchmarks with -petrel.cpuprofile), each
// summarised as the share of flat CPU time per bucket (crypto, syscalls,
// copying, scheduling, GC, petrel, other) and its top functions. Flat time
// is the leaf frame's, after inlining (the innermost function of the
// sample's first location), as `go tool pprof -top` counts it. A Go CPU
// profile samples on ITIMER_PROF, which counts system time too, so time
// the kernel spends in a syscall is charged to the syscall's Go frame.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// The buckets, in the order the report prints them.
const (
	bucketCrypto  = "crypto"
	bucketSyscall = "syscalls"
	bucketCopy    = "copying"
	bucketSched   = "scheduling/runtime"
	bucketGC      = "GC/alloc"
	bucketPetrel  = "petrel"
	bucketOther   = "other"
)

var bucketOrder = []string{bucketCrypto, bucketSyscall, bucketCopy, bucketSched, bucketGC, bucketPetrel, bucketOther}

// gcPrefixes are the runtime's collector and allocator: marking, sweeping,
// write barriers, span and heap management, and the allocation entry
// points (mallocgc and the helpers that call it).
var gcPrefixes = []string{
	"runtime.gc", "runtime.scan", "runtime.mallocgc", "runtime.greyobject", "runtime.markroot", "runtime.markBits",
	"runtime.sweep", "runtime.bgsweep", "runtime.bgscavenge", "runtime.findObject", "runtime.wbBuf", "runtime.bulkBarrier",
	"runtime.newobject", "runtime.newarray", "runtime.makeslice", "runtime.growslice", "runtime.nextFreeFast",
	"runtime.heapBits", "runtime.heapSetType", "runtime.spanOf", "runtime.deductAssistCredit", "runtime.typePointers",
	"runtime.(*gc", "runtime.(*mspan)", "runtime.(*mheap)", "runtime.(*mcache)", "runtime.(*mcentral)",
	"runtime.(*sweep", "runtime.(*spanSet)", "runtime.(*pageAlloc)", "runtime.(*scavenger", "runtime.(*markBits)",
	"runtime.(*typePointers)", "runtime.(*mspan", "runtime.(*gcWork)", "runtime.(*gcControllerState)",
}

var syscallPrefixes = []string{
	"syscall.", "golang.org/x/sys/unix.", "internal/runtime/syscall", "internal/syscall/", "runtime/internal/syscall",
	"runtime.entersyscall", "runtime.exitsyscall", "runtime.reentersyscall",
}

// bucketOf is the bucket of a function, by its name as pprof prints it.
func bucketOf(fn string) string {
	lower := strings.ToLower(fn)
	hasPrefix := func(ps ...string) bool {
		for _, p := range ps {
			if strings.HasPrefix(fn, p) {
				return true
			}
		}
		return false
	}
	switch {
	case hasPrefix("crypto/", "golang.org/x/crypto/", "vendor/golang.org/x/crypto/"),
		strings.Contains(lower, "gcm"), strings.Contains(lower, "chacha"), strings.Contains(lower, "poly1305"):
		return bucketCrypto
	case hasPrefix(syscallPrefixes...):
		return bucketSyscall
	case hasPrefix("runtime.memmove", "runtime.memclr"):
		return bucketCopy
	case hasPrefix(gcPrefixes...):
		return bucketGC
	case hasPrefix("runtime.", "internal/runtime/"):
		return bucketSched
	case hasPrefix("github.com/petrel-transport/petrel/bench/",
		"github.com/petrel-transport/petrel/internal/relay", "github.com/petrel-transport/petrel/internal/netem"):
		return bucketOther // the benchmark's harness and the impairment relay it runs, not the library
	case hasPrefix("github.com/petrel-transport/petrel/", "github.com/petrel-transport/petrel."):
		return bucketPetrel
	}
	return bucketOther
}

// share is a part of a profile's flat CPU time.
type share struct {
	Name     string
	Bucket   string
	Fraction float64
}

// profileSummary is one profile reduced to its buckets and top functions.
type profileSummary struct {
	Bench   string
	Seconds float64 // CPU time sampled
	Buckets map[string]float64
	Top     []share
}

// summarizeProfile reads a pprof CPU profile and returns its flat time by
// bucket and its n most expensive functions (flat).
func summarizeProfile(r io.Reader, n int) (profileSummary, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return profileSummary{}, err
	}
	idx := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return profileSummary{}, fmt.Errorf("profile has no sample types")
	}
	flat := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		fn := "(unknown)"
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 && s.Location[0].Line[0].Function != nil {
			fn = s.Location[0].Line[0].Function.Name
		}
		flat[fn] += v
		total += v
	}
	sum := profileSummary{Buckets: map[string]float64{}}
	if p.SampleType[idx].Unit == "nanoseconds" {
		sum.Seconds = float64(total) / 1e9
	}
	if total == 0 {
		return sum, nil
	}
	fns := make([]share, 0, len(flat))
	for fn, v := range flat {
		f := float64(v) / float64(total)
		b := bucketOf(fn)
		sum.Buckets[b] += f
		fns = append(fns, share{Name: fn, Bucket: b, Fraction: f})
	}
	sort.Slice(fns, func(i, j int) bool {
		if fns[i].Fraction != fns[j].Fraction {
			return fns[i].Fraction > fns[j].Fraction
		}
		return fns[i].Name < fns[j].Name
	})
	sum.Top = fns[:min(n, len(fns))]
	return sum, nil
}

// nextBottleneck names the largest bucket that is neither the kernel's
// (syscalls) nor the cipher's (crypto): what a change to petrel or to how
// it uses the runtime could still win, with that bucket's top function.
func (s profileSummary) nextBottleneck() string {
	best, bestF := "", 0.0
	for _, b := range bucketOrder {
		if b == bucketSyscall || b == bucketCrypto {
			continue
		}
		if f := s.Buckets[b]; f > bestF {
			best, bestF = b, f
		}
	}
	if best == "" {
		return "no CPU time outside syscalls and crypto was sampled"
	}
	out := fmt.Sprintf("%s, %s of CPU time", best, pct(bestF))
	for _, t := range s.Top {
		if t.Bucket == best {
			out += fmt.Sprintf(" (led by %s, %s)", t.Name, pct(t.Fraction))
			break
		}
	}
	return out
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// profiled are the benchmarks whose profiles the report summarises:
// petrel's transfers (both drivers, unimpaired and at 1% loss / 20 ms RTT),
// and quic-go's unimpaired transfer as the reference.
var profiled = []string{
	"BenchmarkTransfer/petrel-gnet",
	"BenchmarkTransfer/petrel-poller",
	"BenchmarkLossMatrix/loss1%-rtt20ms/petrel-gnet",
	"BenchmarkLossMatrix/loss1%-rtt20ms/petrel-poller",
	"BenchmarkTransfer/quic-go",
}

// profilePatterns select, for the profiling pass, the benchmarks whose
// profiles are summarised and the latency CSVs the CDF plots read (go
// test's -bench splits a pattern at each '/' into one per level).
var profilePatterns = []string{
	"^BenchmarkTransfer$/^(petrel-gnet|petrel-poller|quic-go)$",
	"^BenchmarkLossMatrix$/^loss1%-rtt20ms$/^(petrel-gnet|petrel-poller)$",
	"^BenchmarkMessages$/^(64B|1KB)$",
}

// summarizeProfiles reads the profiles of profiled found in dir.
func summarizeProfiles(dir string) ([]profileSummary, []string) {
	var out []profileSummary
	var missing []string
	for _, b := range profiled {
		f, err := os.Open(filepath.Join(dir, profileName(b)+".pprof"))
		if err != nil {
			missing = append(missing, b)
			continue
		}
		s, err := summarizeProfile(f, 10)
		f.Close()
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", b, err))
			continue
		}
		s.Bench = b
		out = append(out, s)
	}
	return out, missing
}

// writeProfiles is the "where petrel's time goes" section.
func writeProfiles(w io.Writer, ps []profileSummary, missing []string, how string) {
	fmt.Fprintf(w, "%s\n\n", how)
	if len(ps) == 0 {
		fmt.Fprintf(w, "Profiles: %s in this run (none of %s was written).\n\n", notMeasured, strings.Join(profiled, ", "))
		return
	}
	header(w, append([]string{"profile", "CPU s sampled"}, bucketOrder...)...)
	for _, p := range ps {
		cells := []string{p.Bench, num(p.Seconds)}
		for _, b := range bucketOrder {
			cells = append(cells, pct(p.Buckets[b]))
		}
		row(w, cells...)
	}
	fmt.Fprintln(w)
	if len(missing) > 0 {
		fmt.Fprintf(w, "Profiles %s in this run: %s.\n\n", notMeasured, strings.Join(missing, ", "))
	}
	for _, p := range ps {
		fmt.Fprintf(w, "**%s** — next bottleneck (largest bucket outside syscalls and crypto): %s.\n\n", p.Bench, p.nextBottleneck())
		header(w, "flat", "bucket", "function")
		for _, t := range p.Top {
			row(w, pct(t.Fraction), t.Bucket, "`"+t.Name+"`")
		}
		fmt.Fprintln(w)
	}
}
