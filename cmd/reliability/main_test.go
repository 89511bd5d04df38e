package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a runner that answers each step by its Run regexp.
func fake(outs map[string]string, errs map[string]error) runner {
	return func(_ context.Context, _ string, _ []string, _ string, args ...string) ([]byte, error) {
		run := args[4] // go test -count=1 -v -run <Run>
		return []byte(outs[run]), errs[run]
	}
}

// A step that exits non-zero, or exits 0 without its section, fails the
// generator, and the report says FAIL for it and pass for the others.
func TestRunFailsWhenAStepFails(t *testing.T) {
	saved := steps
	defer func() { steps = saved }()
	steps = []Step{
		{Title: "good", Dir: ".", Package: "./x", Run: "Good", Timeout: time.Minute, Sections: []string{"good"}, About: "proves good"},
		{Title: "exits 1", Dir: ".", Package: "./x", Run: "Bad", Timeout: time.Minute, Sections: []string{"bad"}},
		{Title: "silent", Dir: ".", Package: "./x", Run: "Silent", Timeout: time.Minute, Sections: []string{"silent"}},
	}
	outs := map[string]string{
		"Good":   "    x_test.go:1: RELIABILITY good seeds=3 violations=0\nok\n",
		"Bad":    "RELIABILITY bad violations=2\nFAIL\n",
		"Silent": "ok\n",
	}
	errs := map[string]error{"Bad": errors.New("exit status 1")}
	out := filepath.Join(t.TempDir(), "R.md")
	err := run(out, ".", "", fake(outs, errs), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exits 1") || !strings.Contains(err.Error(), "silent") || strings.Contains(err.Error(), "good") {
		t.Fatalf("run: %v, want the two failed steps named", err)
	}
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatal(rerr)
	}
	rep := string(b)
	for _, want := range []string{
		"| good | pass |", "| exits 1 | FAIL |", "| silent | FAIL |",
		"| seeds | 3 |", "| violations | 2 |", "no RELIABILITY silent line", "proves good",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("the report lacks %q:\n%s", want, rep)
		}
	}

	// With every step passing, run returns nil.
	steps = steps[:1]
	if err := run(out, ".", "", fake(outs, errs), io.Discard); err != nil {
		t.Errorf("run with one passing step: %v", err)
	}
}

// Several lines of a section become one table with a column per key.
func TestSectionTable(t *testing.T) {
	var b strings.Builder
	writeSection(&b, "s", parse([]byte("RELIABILITY s a=1 b=2\nRELIABILITY s a=3 c=4\n")))
	want := "\n### s\n\n| a | b | c |\n|---|---|---|\n| 1 | 2 |  |\n| 3 |  | 4 |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// The sim step is first, as the report's contract says.
func TestStepsStartWithTheSimulation(t *testing.T) {
	if len(steps) == 0 || steps[0].Sections[0] != "sim" || steps[0].Dir != "." {
		t.Errorf("first step %+v", steps[0])
	}
	for _, st := range steps {
		if st.Title == "" || st.About == "" || st.Timeout <= 0 || len(st.Sections) == 0 {
			t.Errorf("incomplete step %+v", st)
		}
	}
}
