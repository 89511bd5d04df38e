// Command reliability regenerates RELIABILITY.md from real runs: it runs a
// fixed list of steps (go test runs and make targets, see steps.go),
// collects the RELIABILITY lines each prints, and writes them as tables,
// with each step's result, wall time and how to rerun it, under a header
// naming the machine, kernel, Go version, date and commit.
//
// It exits non-zero, after writing the report with the failure marked, if
// any step fails: a non-zero exit, a timeout, or a section missing from its
// output.
//
//	cd cmd && go run ./reliability -o ../RELIABILITY.md
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "RELIABILITY.md", "the report to write")
	root := flag.String("root", "..", "the repository root (the steps' Dir is relative to it)")
	only := flag.String("only", "", "run only the steps whose title matches this regexp (a partial report, for trying a step)")
	flag.Parse()
	if err := run(*out, *root, *only, execRunner, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}

// runner runs name with args in dir and returns its combined output.
type runner func(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error)

func execRunner(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	return cmd.CombinedOutput()
}

// Result is what one step did.
type Result struct {
	Step    Step
	Command string
	Err     error
	Wall    time.Duration
	Records []Record
}

// run runs the steps (those matching only), writes the report to out and
// returns an error naming the steps that failed.
func run(out, root, only string, r runner, log io.Writer) error {
	var sel *regexp.Regexp
	if only != "" {
		var err error
		if sel, err = regexp.Compile(only); err != nil {
			return err
		}
	}
	env := describe(root)
	var results []Result
	var failed []string
	for _, st := range steps {
		if sel != nil && !sel.MatchString(st.Title) {
			continue
		}
		fmt.Fprintf(log, "== %s\n", st.Title)
		res := runStep(st, root, r)
		if res.Err != nil {
			failed = append(failed, st.Title)
			fmt.Fprintf(log, "   FAIL (%v): %v\n", res.Wall.Round(time.Second), res.Err)
		} else {
			fmt.Fprintf(log, "   ok (%v), %d lines\n", res.Wall.Round(time.Second), len(res.Records))
		}
		results = append(results, res)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	werr := writeReport(f, env, results)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d step(s) failed: %s (see %s)", len(failed), strings.Join(failed, ", "), out)
	}
	return nil
}

// runStep runs one step and checks its sections.
func runStep(st Step, root string, r runner) Result {
	name, args := command(st)
	res := Result{Step: st, Command: "cd " + st.Dir + " && " + strings.Join(append(append([]string{}, st.Env...), append([]string{name}, args...)...), " ")}
	ctx, cancel := context.WithTimeout(context.Background(), st.Timeout+time.Minute)
	defer cancel()
	begin := time.Now()
	out, err := r(ctx, filepath.Join(root, st.Dir), st.Env, name, args...)
	res.Wall = time.Since(begin)
	res.Records = parse(out)
	if err != nil {
		res.Err = fmt.Errorf("%w\n%s", err, tail(out, 40))
		return res
	}
	for _, s := range st.Sections {
		found := false
		for _, rec := range res.Records {
			found = found || rec.Section == s
		}
		if !found {
			res.Err = fmt.Errorf("no RELIABILITY %s line in the output\n%s", s, tail(out, 40))
		}
	}
	return res
}

// command is the command line of a step.
func command(st Step) (string, []string) {
	if st.Make != "" {
		return "make", strings.Fields(st.Make)
	}
	args := []string{"test", "-count=1", "-v", "-run", st.Run, "-timeout", st.Timeout.String(), st.Package}
	if len(st.Args) > 0 {
		args = append(append(args, "-args"), st.Args...)
	}
	return "go", args
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// describe names the machine, kernel, Go and commit the report comes from.
func describe(root string) []string {
	first := func(b []byte, err error) string {
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	ncpu := first(exec.Command("nproc").Output())
	kernel := first(os.ReadFile("/proc/sys/kernel/osrelease"))
	goVersion := first(exec.Command("go", "version").Output())
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		return first(cmd.Output())
	}
	commit := git("rev-parse", "HEAD")
	if st := git("status", "--porcelain", "--untracked-files=no"); st != "unknown" && st != "" {
		commit += " (with uncommitted changes)"
	}
	return []string{
		"Date: " + time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		"Commit: " + commit,
		fmt.Sprintf("Machine: %s, %s CPUs", cpu, ncpu),
		"Kernel: " + kernel,
		"Go: " + goVersion,
	}
}
