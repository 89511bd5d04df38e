package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// options are the command's flags.
type options struct {
	modules          []string
	pkgs, tags       string
	bench            string
	count            int    // rounds of every package; 0: the plan's
	benchtime        string // -benchtime of every package; "": the plan's
	quick            bool
	out              string
	plotDir, profDir string
}

func main() {
	var o options
	modules := flag.String("modules", ".", "comma-separated module directories whose packages are benchmarked")
	flag.StringVar(&o.pkgs, "pkg", "./...", "packages to benchmark, a pattern resolved in each module")
	flag.StringVar(&o.tags, "tags", "", "build tags for the test binaries (go test -tags)")
	flag.StringVar(&o.bench, "bench", ".", "go test -bench regexp")
	flag.IntVar(&o.count, "count", 0, "rounds of every package (0: the plan table's, plan.go)")
	flag.StringVar(&o.benchtime, "benchtime", "", "go test -benchtime of every package (empty: the plan table's)")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: one round at the plan's quick benchtimes; fails only if a benchmark fails to run")
	flag.StringVar(&o.out, "o", "BENCHMARKS.md", "report file to write")
	flag.StringVar(&o.plotDir, "plots", "plots", "directory the SVG plots are written to (linked from the report)")
	flag.StringVar(&o.profDir, "profiles", "profiles", "directory of the profiling pass's CPU profiles and latency CSVs")
	flag.Parse()
	o.modules = strings.Split(*modules, ",")
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run builds every package's test binary once, runs the rounds, then the
// profiling pass, and writes the report, plots included. It fails if a
// package failed to build or a benchmark failed to run, never because a
// target was missed.
func run(o options) error {
	tmp, err := os.MkdirTemp("", "petrel-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	started := time.Now()
	meta := machine(started)
	// Build every package's test binary once, then run them in rounds:
	// round r runs every benchmark once, so each baseline and the line it
	// is compared with are measured minutes apart at most, and a change in
	// the machine's load during the run falls on both.
	var pkgs []benchPkg
	var failed []string
	for _, mod := range o.modules {
		built, fails, err := build(mod, o.pkgs, o.tags, tmp, len(pkgs))
		if err != nil {
			return err
		}
		pkgs = append(pkgs, built...)
		failed = append(failed, fails...)
	}
	maxRounds := 0
	for i := range pkgs {
		p := &pkgs[i]
		p.plan = planFor(p.pkg)
		switch {
		case o.quick:
			p.plan.Rounds, p.plan.Benchtime = 1, p.plan.Quick
		case o.count > 0:
			p.plan.Rounds = o.count
		}
		if o.benchtime != "" {
			p.plan.Benchtime = o.benchtime
		}
		maxRounds = max(maxRounds, p.plan.Rounds)
	}
	built := time.Since(started)
	fmt.Fprintf(os.Stderr, "== built %d test binaries in %s\n", len(pkgs), built.Round(time.Second))
	var all []result
	for round := range maxRounds {
		for i := range pkgs {
			p := &pkgs[i]
			if round >= p.plan.Rounds {
				continue
			}
			fmt.Fprintf(os.Stderr, "== round %d/%d %s (-benchtime %s)\n", round+1, p.plan.Rounds, p.pkg, p.plan.Benchtime)
			out, took, err := p.runBench(o.bench, p.plan.Benchtime)
			p.took = append(p.took, took)
			fmt.Fprintf(os.Stderr, "== round %d/%d %s took %s\n", round+1, p.plan.Rounds, p.pkg, took.Round(time.Millisecond))
			if fail := benchFailure(out, err); fail != "" {
				failed = append(failed, fmt.Sprintf("%s (round %d): %s", p.pkg, round+1, fail))
			}
			p.raw.WriteString(keepBenchLines(out))
			for _, r := range parse(p.pkg, strings.NewReader(out)) {
				r.Round = round
				all = append(all, r)
			}
		}
		if round == 0 {
			fmt.Fprintf(os.Stderr, "== %s\n", estimate(pkgs, built))
		}
	}
	// The profiling pass: profiles perturb what they measure, so its lines
	// are not figures of the report; they give the profiles and the
	// latency distributions only.
	profs, profMissing, profHow, profFails := profilePass(pkgs, o)
	failed = append(failed, profFails...)
	d := runData{all}
	plots, err := writePlots(o.plotDir, d, o.profDir)
	if err != nil {
		failed = append(failed, err.Error())
	}
	meta.took = time.Since(started)
	var doc bytes.Buffer
	writeReport(&doc, report{
		meta: meta, pkgs: pkgs, quick: o.quick, data: d, plots: plots, plotLink: linkDir(o.out, o.plotDir),
		profiles: profs, profMissing: profMissing, profHow: profHow, failed: failed,
	})
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, doc.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d benchmark lines) in %s\n", o.out, len(all), meta.took.Round(time.Second))
	if len(failed) > 0 {
		return fmt.Errorf("%d failure(s): %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// runBench runs the package's benchmarks matching pattern once, as go test
// runs them (in the package's directory), echoing the output to stderr.
func (p *benchPkg) runBench(pattern, benchtime string, extra ...string) (string, time.Duration, error) {
	var buf bytes.Buffer
	args := append([]string{"-test.run", "^$", "-test.bench", pattern, "-test.benchmem",
		"-test.benchtime", benchtime, "-test.count", "1", "-test.timeout", "30m"}, extra...)
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.dir
	cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
	cmd.Stderr = cmd.Stdout
	t0 := time.Now()
	err := cmd.Run()
	return buf.String(), time.Since(t0), err
}

// benchFailure is why a run failed ("" if it did not): the binary's exit
// status, or a benchmark's --- FAIL line.
func benchFailure(out string, err error) string {
	var fails []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--- FAIL") {
			fails = append(fails, strings.TrimSpace(l))
		}
	}
	if err != nil {
		fails = append(fails, err.Error())
	}
	return strings.Join(fails, ", ")
}

// estimate projects the run's total from round 1: each package's first
// round times its rounds, plus a profiling pass of the end-to-end packages
// (bounded by one more round of them).
func estimate(pkgs []benchPkg, built time.Duration) string {
	var rounds, prof time.Duration
	for _, p := range pkgs {
		if len(p.took) == 0 {
			continue
		}
		rounds += p.took[0] * time.Duration(p.plan.Rounds)
		if isE2E(p.pkg) {
			prof += p.took[0]
		}
	}
	return fmt.Sprintf("estimate after round 1: %s in all (build %s, rounds %s, profiling pass at most %s)",
		(built + rounds + prof).Round(time.Second), built.Round(time.Second), rounds.Round(time.Second), prof.Round(time.Second))
}

// profilePass runs the end-to-end packages' profiled benchmarks once more
// with -petrel.cpuprofile and -petrel.latency into o.profDir, and
// summarises the profiles. A binary that does not accept the flags (its
// package does not import bench/internal/transports) is skipped.
func profilePass(pkgs []benchPkg, o options) (ps []profileSummary, missing []string, how string, failed []string) {
	dir, err := filepath.Abs(o.profDir)
	if err == nil {
		err = cleanDir(dir)
	}
	if err != nil {
		return nil, profiled, "", []string{"profiles: " + err.Error()}
	}
	var ran []string
	for i := range pkgs {
		p := &pkgs[i]
		if !isE2E(p.pkg) {
			continue
		}
		if !p.acceptsProfileFlags() {
			fmt.Fprintf(os.Stderr, "== profiling pass: %s does not accept -petrel.cpuprofile; skipped\n", p.pkg)
			continue
		}
		for _, pat := range profilePatterns {
			out, took, err := p.runBench(pat, p.plan.Benchtime, "-petrel.cpuprofile="+dir, "-petrel.latency="+dir)
			fmt.Fprintf(os.Stderr, "== profiling pass %s %s took %s\n", p.pkg, pat, took.Round(time.Millisecond))
			if fail := benchFailure(out, err); fail != "" {
				failed = append(failed, fmt.Sprintf("%s (profiling pass, %s): %s", p.pkg, pat, fail))
			}
		}
		ran = append(ran, strings.TrimPrefix(p.pkg, modulePath+"/"))
	}
	ps, missing = summarizeProfiles(dir)
	how = fmt.Sprintf("From one extra pass after the rounds (not part of any figure above: profiling perturbs what it measures) of %s, "+
		"each profiled benchmark run with `-petrel.cpuprofile=DIR -petrel.latency=DIR`; flat CPU time (the leaf function after inlining, as `go tool pprof -top` counts it), "+
		"in both endpoints of the one process. The profiles are not committed (bench/profiles/ is ignored); `make bench` writes them there, and "+
		"`go tool pprof -top bench/profiles/<name>.pprof` reads one.", orNone(ran))
	return ps, missing, how, failed
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "no package (no end-to-end package accepted the flags)"
	}
	return strings.Join(ss, ", ")
}

// acceptsProfileFlags reports whether the test binary registers
// -petrel.cpuprofile (the flag package lists it in -h's usage).
func (p *benchPkg) acceptsProfileFlags() bool {
	out, _ := exec.Command(p.bin, "-h").CombinedOutput()
	return bytes.Contains(out, []byte("petrel.cpuprofile"))
}

// cleanDir makes dir exist and removes the profiles and CSVs of an earlier
// run from it, so a benchmark absent from this run leaves no stale file.
func cleanDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, pat := range []string{"*.pprof", "*.csv"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkDir is dir as a link from the report's directory.
func linkDir(out, dir string) string {
	ao, err1 := filepath.Abs(out)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return dir
	}
	rel, err := filepath.Rel(filepath.Dir(ao), ad)
	if err != nil {
		return ad
	}
	return filepath.ToSlash(rel)
}
