package tracker

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// exactAllocs returns the total heap allocations of runs calls of fn
// (testing.AllocsPerRun rounds the average down; this does not), the least
// of three measurements, since the runtime sometimes allocates on its own.
func exactAllocs(runs int, fn func()) uint64 {
	fn() // warm up
	best := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			fn()
		}
		runtime.ReadMemStats(&after)
		best = min(best, after.Mallocs-before.Mallocs)
	}
	return best
}

// TestZeroAllocs: the per-packet path allocates nothing in steady state: a
// sliding window of packets in flight, chunks recycled through the pool.
func TestZeroAllocs(t *testing.T) {
	const window = 3000 // packets in flight: spans several chunks
	r := newRig(t, Config{})
	var pn uint64
	ranges := make([]AckRange, 1)
	dst := make([]Resend, 0, 16)
	sendAckOld := func() {
		if err := sendOn(r.fl, r.t, pn, StreamID(pn%4), uint32(100), ms); err != nil {
			t.Fatal(err)
		}
		ranges[0] = rng(pn-window, pn-window)
		if _, err := r.t.OnAck(ranges, time.Millisecond, 2*ms); err != nil {
			t.Fatal(err)
		}
		pn++
	}
	// Warm up: fill the window, then slide it through many chunk lives.
	for ; pn < window; pn++ {
		r.send(t, pn, StreamID(pn%4), 100, ms)
	}
	for range 20 * chunkSize {
		sendAckOld()
	}
	tests := []struct {
		name  string
		fn    func()
		pools bool // recycles through a sync.Pool every run
	}{
		{"OnSent+OnAck", sendAckOld, false},
		{"OnAck wide range", func() {
			ranges[0] = rng(0, pn-window-1) // all acked already: chunk skipping
			if _, err := r.t.OnAck(ranges, time.Millisecond, 2*ms); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"loss+Retransmit", newLossCycle(t).run, true},
		{"DueForResend", func() {
			dst, _ = r.t.DueForResend(dst[:0], 5*ms, rtt10)
		}, false},
		{"InFlight+Stats", func() { _ = r.t.InFlight(pn - 1); _ = r.t.Stats() }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pools && raceEnabled {
				t.Skip("sync.Pool drops Puts under the race detector: run without -race")
			}
			if n := testing.AllocsPerRun(1000, tc.fn); n != 0 {
				t.Fatalf("AllocsPerRun = %v, want 0", n)
			}
			// AllocsPerRun rounds down, which would hide one allocation
			// per chunk (1/1024 per packet). Count them all over 20,000
			// runs: a per-chunk allocation would show up about 20 times;
			// the runtime itself allocates a few times in the window. A
			// case that recycles through sync.Pool also allocates when the
			// goroutine moves to another P (a P's private item is not
			// stolen): a few dozen times, far below once per run.
			const runs = 20000
			noise := uint64(8)
			if tc.pools {
				noise = 100
			}
			if n := exactAllocs(runs, tc.fn); n > noise {
				t.Fatalf("%d allocations in %d runs, want at most %d (runtime noise)", n, runs, noise)
			} else {
				t.Logf("%d allocations in %d runs", n, runs)
			}
		})
	}
	r.checkBooks(t)
}

// TestOnlyResolveReleases proves the exactly-once rule by construction:
// in this package's code, FlightSize.Release is called in one place, the
// transition function.
func TestOnlyResolveReleases(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var callers []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Release" {
					callers = append(callers, name+":"+fd.Name.Name)
				}
				return true
			})
		}
	}
	if len(callers) != 1 || callers[0] != "transition.go:transition" {
		t.Fatalf("Release referenced from %v, want only transition.go:transition", callers)
	}
}
