package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	benchtime := flag.String("benchtime", "1s", "go test -benchtime for every benchmark")
	count := flag.Int("count", 9, "rounds: runs of each benchmark, interleaved; claims use the median")
	bench := flag.String("bench", ".", "go test -bench regexp")
	pkgs := flag.String("pkg", "./...", "packages to benchmark, a pattern resolved in each module")
	modules := flag.String("modules", ".", "comma-separated module directories whose packages are benchmarked")
	tags := flag.String("tags", "", "build tags for the test binaries (go test -tags)")
	out := flag.String("o", "BENCHMARKS.md", "report file to write")
	flag.Parse()
	if err := run(strings.Split(*modules, ","), *pkgs, *tags, *bench, *benchtime, *count, *out); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(modules []string, pkgPattern, tags, bench, benchtime string, count int, outPath string) error {
	tmp, err := os.MkdirTemp("", "petrel-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	started := time.Now().UTC()
	// Build every package's test binary once, then run them in rounds:
	// round r runs every benchmark once, so each baseline and the line it
	// is compared with are measured minutes apart at most, and a change in
	// the machine's load during the run falls on both.
	var pkgs []benchPkg
	var failed []string
	for _, mod := range modules {
		built, fails, err := build(mod, pkgPattern, tags, tmp, len(pkgs))
		if err != nil {
			return err
		}
		pkgs = append(pkgs, built...)
		failed = append(failed, fails...)
	}
	var all []result
	for round := range count {
		for i := range pkgs {
			p := &pkgs[i]
			fmt.Fprintf(os.Stderr, "== round %d/%d %s\n", round+1, count, p.pkg)
			var buf bytes.Buffer
			cmd := exec.Command(p.bin, "-test.run", "^$", "-test.bench", bench, "-test.benchmem",
				"-test.benchtime", benchtime, "-test.count", "1", "-test.timeout", "30m")
			cmd.Dir = p.dir // as go test runs it
			cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
			cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
			if err := cmd.Run(); err != nil {
				failed = append(failed, fmt.Sprintf("%s (round %d): %v", p.pkg, round+1, err))
			}
			p.raw.WriteString(keepBenchLines(buf.String()))
			for _, r := range parse(p.pkg, &buf) {
				r.Round = round
				all = append(all, r)
			}
		}
	}
	var raw strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&raw, "### %s\n\n```\n%s```\n\n", p.pkg, p.raw.String())
	}
	var doc bytes.Buffer
	how := fmt.Sprintf("%s, %d rounds (each round runs every benchmark once; a ratio claim is the median of its %d per-round ratios, any other claim the median of its %d values)", benchtime, count, count, count)
	writeReport(&doc, started, time.Since(started), how, evaluate(claims, all), raw.String(), failed)
	if err := os.WriteFile(outPath, doc.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d benchmark lines)\n", outPath, len(all))
	if len(failed) > 0 {
		return fmt.Errorf("benchmarks failed in %d package(s): %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// build compiles the test binary of every package of the module in dir
// matching pattern that has benchmarks, into tmp (named from n on). Every go
// command runs in dir: a package resolves, and its test builds, with its own
// module's go.mod (bench/ is a module of its own, with dependencies the
// library's module does not have).
func build(dir, pattern, tags, tmp string, n int) ([]benchPkg, []string, error) {
	gocmd := func(args ...string) *exec.Cmd {
		if tags != "" && (args[0] == "test" || args[0] == "list") {
			args = append([]string{args[0], "-tags", tags}, args[1:]...)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		return cmd
	}
	list, err := gocmd("list", pattern).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list %s in %s: %w", pattern, dir, err)
	}
	var pkgs []benchPkg
	var failed []string
	for _, pkg := range strings.Fields(string(list)) {
		names, _ := gocmd("test", "-list", "^Benchmark", pkg).Output()
		if !strings.Contains(string(names), "Benchmark") {
			continue
		}
		pdir, err := gocmd("list", "-f", "{{.Dir}}", pkg).Output()
		if err != nil {
			return nil, nil, fmt.Errorf("go list %s in %s: %w", pkg, dir, err)
		}
		bin := filepath.Join(tmp, strconv.Itoa(n+len(pkgs))+".test")
		if out, err := gocmd("test", "-c", "-o", bin, pkg).CombinedOutput(); err != nil {
			failed = append(failed, fmt.Sprintf("%s: build: %v: %s", pkg, err, out))
			continue
		}
		pkgs = append(pkgs, benchPkg{pkg: pkg, dir: strings.TrimSpace(string(pdir)), bin: bin})
	}
	return pkgs, failed, nil
}

// benchPkg is one package's compiled test binary and its published lines.
type benchPkg struct {
	pkg, dir, bin string
	raw           strings.Builder
}

// keepBenchLines keeps the lines worth publishing: results and the goos/cpu
// header, dropping PASS/ok noise.
func keepBenchLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") || strings.HasPrefix(l, "--- FAIL") || strings.HasPrefix(l, "panic") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func writeReport(w io.Writer, started time.Time, took time.Duration, benchtime string, vs []verdict, raw string, failed []string) {
	fmt.Fprintf(w, "# petrel benchmarks\n\n")
	fmt.Fprintf(w, "Generated by `make bench` (`go run ./report` in bench/, over the library's module and bench's) from one run; do not edit by hand.\n")
	fmt.Fprintf(w, "Every ratio compares two lines of this same run (a baseline built into the same test binary, run back to back in the same round).\n\n")
	fmt.Fprintf(w, "- Date: %s (took %s)\n", started.Format(time.RFC3339), took.Round(time.Second))
	fmt.Fprintf(w, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "- Machine: %s, %d logical CPUs, kernel %s\n", cpuModel(), runtime.NumCPU(), kernel())
	fmt.Fprintf(w, "- benchtime: %s\n\n", benchtime)
	if len(failed) > 0 {
		fmt.Fprintf(w, "**Failed packages:** %s\n\n", strings.Join(failed, "; "))
	}
	fmt.Fprintf(w, "## Contract targets\n\nissue | claim | measured | target | verdict\n--- | --- | --- | --- | ---\n")
	for _, v := range vs {
		fmt.Fprintln(w, v.String())
	}
	fmt.Fprintf(w, "\n## Raw results\n\n%s", raw)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	out, err := exec.Command("uname", "-sr").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
