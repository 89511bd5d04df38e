package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchPkg is one package's compiled test binary, its plan, the time each
// of its rounds took and its published lines.
type benchPkg struct {
	pkg, dir, bin string
	plan          plan
	took          []time.Duration
	raw           strings.Builder
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
	// One go list for the package directories and test files: a package
	// is benchmarked if a test file declares a Benchmark function (found by
	// reading the files, not by compiling and running every test binary
	// with -list, which took minutes of make bench-quick's budget).
	list, err := gocmd("list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \",\"}},{{join .XTestGoFiles \",\"}}", pattern).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list %s in %s: %w", pattern, dir, err)
	}
	var pkgs []benchPkg
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			continue
		}
		has, err := hasBenchmarks(f[1], strings.Split(f[2], ","))
		if err != nil {
			return nil, nil, err
		}
		if has {
			pkgs = append(pkgs, benchPkg{pkg: f[0], dir: f[1], bin: filepath.Join(tmp, strconv.Itoa(n+len(pkgs))+".test")})
		}
	}
	// Build as many binaries at once as there are CPUs: one go test -c
	// spends much of its time linking, on one core.
	errs := make([]string, len(pkgs))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i := range pkgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if out, err := gocmd("test", "-c", "-o", pkgs[i].bin, pkgs[i].pkg).CombinedOutput(); err != nil {
				errs[i] = fmt.Sprintf("%s: build: %v: %s", pkgs[i].pkg, err, out)
			}
		}()
	}
	wg.Wait()
	var ok []benchPkg
	var failed []string
	for i := range pkgs {
		if errs[i] != "" {
			failed = append(failed, errs[i])
			continue
		}
		ok = append(ok, pkgs[i])
	}
	return ok, failed, nil
}

var benchFunc = regexp.MustCompile(`(?m)^func Benchmark[^(]*\(\w+ \*testing\.B\)`)

// hasBenchmarks reports whether any of the test files in dir declares a
// benchmark.
func hasBenchmarks(dir string, files []string) (bool, error) {
	for _, f := range files {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return false, err
		}
		if benchFunc.Match(b) {
			return true, nil
		}
	}
	return false, nil
}

// figuresLine is the second half of a benchmark's result split by its log
// lines (parse joins the two).
var figuresLine = regexp.MustCompile(`^\s+\d+\s+[0-9.e+]+ ns/op`)

// keepBenchLines keeps the lines worth publishing: results and the goos/cpu
// header, dropping PASS/ok noise.
func keepBenchLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "Benchmark") || figuresLine.MatchString(l) || strings.HasPrefix(l, "cpu:") || strings.HasPrefix(l, "--- FAIL") || strings.HasPrefix(l, "panic") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
