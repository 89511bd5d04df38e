package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildPerModule: packages of both modules (the library at the repo
// root, bench/ beside it) are listed and compiled in their own module
// directory, so each builds against its own go.mod; a package with no
// benchmark is left out.
func TestBuildPerModule(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles test binaries")
	}
	tmp := t.TempDir()
	var got []benchPkg
	for _, m := range []struct{ dir, pattern string }{
		{"../..", "./core/wire"},     // the library's module
		{"..", "./messages"},         // bench's own module (quic-go is only here)
		{"..", "./transfer"},         // the benchmarks of the transfer claims
		{"../..", "./internal/arch"}, // no benchmark: skipped
	} {
		pkgs, failed, err := build(m.dir, m.pattern, "", tmp, len(got))
		if err != nil || len(failed) > 0 {
			t.Fatalf("build %s in %s: %v %v", m.pattern, m.dir, err, failed)
		}
		got = append(got, pkgs...)
	}
	want := []string{"github.com/petrel-transport/petrel/core/wire", "github.com/petrel-transport/petrel/bench/messages", "github.com/petrel-transport/petrel/bench/transfer"}
	if len(got) != len(want) {
		t.Fatalf("built %d packages, want %v", len(got), want)
	}
	for i, p := range got {
		if p.pkg != want[i] {
			t.Errorf("package %d: %s, want %s", i, p.pkg, want[i])
		}
		if !strings.HasSuffix(filepath.ToSlash(p.dir), strings.TrimPrefix(want[i], "github.com/petrel-transport/petrel")) {
			t.Errorf("%s: directory %s", p.pkg, p.dir)
		}
		if _, err := os.Stat(p.bin); err != nil {
			t.Errorf("%s: no test binary: %v", p.pkg, err)
		}
	}
}

// fakeE2E is an end-to-end package in the shape of the bench contract: it
// registers -petrel.cpuprofile and -petrel.latency and writes a CPU
// profile and a latency CSV named by the contract's rule. (Its benchmark
// declarations are spliced in, so that no line of this file starts with
// one: hasBenchmarks would take bench/report for a benchmark package.)
const fakeE2E = `package fake

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"testing"
)

var (
	cpuDir = flag.String("petrel.cpuprofile", "", "CPU profiles")
	latDir = flag.String("petrel.latency", "", "latency CSVs")
	unsafe = regexp.MustCompile("[^A-Za-z0-9._%=-]")
	sink   int
)

func file(b *testing.B, dir, ext string) string { return filepath.Join(dir, unsafe.ReplaceAllString(b.Name(), "_")+ext) }

` + "func BenchmarkTransfer(b *testing.B) {" + `
	b.Run("petrel-gnet", func(b *testing.B) {
		if *cpuDir != "" {
			f, err := os.Create(file(b, *cpuDir, ".pprof"))
			if err != nil {
				b.Fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		for i := range b.N * 1000 {
			sink += i * i
		}
		b.ReportMetric(100, "MB/s")
	})
}

` + "func BenchmarkMessages(b *testing.B) {" + `
	b.Run("64B", func(b *testing.B) {
		b.Run("quic-go", func(b *testing.B) {
			if *latDir != "" {
				s := "percentile,micros\n"
				for p := 0; p <= 100; p++ {
					s += fmt.Sprintf("%d,%d\n", p, 10+p)
				}
				if err := os.WriteFile(file(b, *latDir, ".csv"), []byte(s), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(50, "p99-us")
		})
	})
}
`

// TestProfilePass: the profiling pass runs an end-to-end binary that
// accepts the contract's flags with them, and finds its profile and
// latency CSV by the contract's names; a binary without the flags is
// skipped, not failed.
func TestProfilePass(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles test binaries")
	}
	mod := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":       "module " + modulePath + "/bench/fake\n\ngo 1.26\n",
		"fake_test.go": fakeE2E,
	} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, failed, err := build(mod, "./...", "", t.TempDir(), 0)
	if err != nil || len(failed) > 0 || len(pkgs) != 1 {
		t.Fatalf("build: %v %v %d packages", err, failed, len(pkgs))
	}
	pkgs[0].plan = planFor(pkgs[0].pkg)
	if !pkgs[0].acceptsProfileFlags() {
		t.Fatal("the fake binary's -h does not list -petrel.cpuprofile")
	}
	prof := t.TempDir()
	ps, missing, _, fails := profilePass(pkgs, options{profDir: prof})
	if len(fails) > 0 {
		t.Fatalf("profiling pass failed: %v", fails)
	}
	if len(ps) != 1 || ps[0].Bench != "BenchmarkTransfer/petrel-gnet" || len(missing) != len(profiled)-1 {
		t.Fatalf("summaries %+v, missing %v", ps, missing)
	}
	plots, err := writePlots(t.TempDir(), runData{}, prof)
	if err != nil {
		t.Fatal(err)
	}
	if p := plots[2]; p.File != "latency-cdf-64B.svg" {
		t.Errorf("the CDF of the pass's CSV was not drawn: %+v", p)
	}

	// Without the flags (a package that does not import
	// bench/internal/transports) the binary is skipped.
	if err := os.WriteFile(filepath.Join(mod, "fake_test.go"), []byte("package fake\n\nimport \"testing\"\n\n"+"func BenchmarkTransfer(b *testing.B) {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs, failed, err = build(mod, "./...", "", t.TempDir(), 0)
	if err != nil || len(failed) > 0 || len(pkgs) != 1 {
		t.Fatalf("build: %v %v", err, failed)
	}
	if ps, _, _, fails := profilePass(pkgs, options{profDir: prof}); len(ps) != 0 || len(fails) != 0 {
		t.Errorf("a binary without the flags: %d profiles, failures %v", len(ps), fails)
	}
}

func TestHasBenchmarks(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"a_test.go": "package a\n\nfunc TestA(t *testing.T) {}\n\nvar s = `\n` + \"func BenchmarkX(b *testing.B)\"\n",
		"b_test.go": "package a\n\nimport \"testing\"\n\n" + "func BenchmarkB(b *testing.B) {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		files []string
		want  bool
	}{{[]string{"a_test.go"}, false}, {[]string{"a_test.go", "b_test.go"}, true}, {[]string{""}, false}} {
		if got, err := hasBenchmarks(dir, tt.files); got != tt.want || err != nil {
			t.Errorf("%v: %v %v, want %v", tt.files, got, err, tt.want)
		}
	}
}
