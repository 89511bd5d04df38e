package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// proc is a petrel process a test runs: its standard output and error are
// read line by line as they come, each line stamped with its arrival, so a
// test waits for what the process says (no polling, no sleeps) and times
// what happened between two processes' lines.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err *lineLog
	exited   chan struct{} // closed once Wait returned; waitErr is set before
	waitErr  error
}

// line is one line of a process's output and when the test read it.
type line struct {
	at   time.Time
	text string
}

// lineLog collects one stream's lines. mu guards the fields below.
type lineLog struct {
	mu      sync.Mutex
	lines   []line
	eof     bool
	changed chan struct{} // closed and replaced at each new line and at EOF
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) read(r io.Reader, wg *sync.WaitGroup) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, line{at: time.Now(), text: sc.Text()})
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line too long for the scanner: keep the pipe drained
	l.mu.Lock()
	l.eof = true
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// waitFor returns the first line, from index from on, that match accepts,
// and its index; it fails at EOF or when ctx ends.
func (l *lineLog) waitFor(ctx context.Context, from int, match func(string) bool) (line, int, error) {
	for i := from; ; {
		l.mu.Lock()
		for ; i < len(l.lines); i++ {
			if match(l.lines[i].text) {
				ln := l.lines[i]
				l.mu.Unlock()
				return ln, i, nil
			}
		}
		eof, ch := l.eof, l.changed
		l.mu.Unlock()
		if eof {
			return line{}, 0, io.EOF
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return line{}, 0, ctx.Err()
		}
	}
}

// String is every line so far, for failure messages.
func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.lines {
		b.WriteString(ln.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// startProc starts name (argv[0]) with args and reads its output. The test's
// cleanup kills it if it still runs and waits for it.
func startProc(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), out: newLineLog(), err: newLineLog(), exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go p.out.read(stdout, &readers)
	go p.err.read(stderr, &readers)
	go func() {
		readers.Wait() // Wait closes the pipes: read them to the end first
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.exited:
		return p.waitErr
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s killed: %w", p.name, ctx.Err())
	}
}

// logs is the process's output for a failure message.
func (p *proc) logs() string {
	return fmt.Sprintf("--- %s stdout:\n%s--- %s stderr:\n%s", p.name, p.out, p.name, p.err)
}

// field returns the value of the first "name value" line of the output.
func (p *proc) field(ctx context.Context, name string) (string, error) {
	ln, _, err := p.out.waitFor(ctx, 0, func(s string) bool { return strings.HasPrefix(s, name+" ") })
	if err != nil {
		return "", fmt.Errorf("%s printed no %s line: %w\n%s", p.name, name, err, p.logs())
	}
	return strings.TrimPrefix(ln.text, name+" "), nil
}
