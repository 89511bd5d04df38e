package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress shows a phase's advance: a bar with live figures on a terminal
// (mpb), a line per second otherwise (logs, CI, a pipe).
type progress struct {
	w     io.Writer
	bars  *mpb.Progress // nil when plain
	start time.Time
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, plain bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if !plain && isTerminal(w) {
		p.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
	}
	return p
}

// phaseBar is one phase's bar: current out of total, with a status line
// (throughput, RTT, window) computed on each refresh.
type phaseBar struct {
	p      *progress
	name   string
	total  int64 // negative: unknown (bytes from a pipe)
	bytes  bool  // current counts bytes (otherwise milliseconds of a timed phase)
	status func() string
	start  time.Time

	bar  *mpb.Bar
	stop chan struct{}
	done sync.WaitGroup
	last int64
	mu   sync.Mutex
}

// phase starts a phase's progress: a bar on a terminal when the total is
// known (with an ETA when it counts bytes), a line per second otherwise.
func (p *progress) phase(name string, total int64, bytes bool, status func() string) *phaseBar {
	b := &phaseBar{p: p, name: name, total: total, bytes: bytes, status: status, start: time.Now(), stop: make(chan struct{})}
	if p.bars != nil && total >= 0 {
		var counters decor.Decorator
		var eta []decor.Decorator
		if bytes {
			counters = decor.CountersKibiByte("% .1f / % .1f")
			eta = append(eta, decor.Name(" eta "), decor.AverageETA(decor.ET_STYLE_GO, decor.WC{W: 4}))
		} else {
			counters = decor.Any(func(s decor.Statistics) string {
				return fmt.Sprintf("%.0fs / %.0fs", float64(s.Current)/1000, float64(s.Total)/1000)
			})
		}
		b.bar = p.bars.New(total, mpb.BarStyle(),
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), counters),
			mpb.AppendDecorators(append(eta, decor.Any(func(decor.Statistics) string { return "  " + status() }))...),
		)
		return b
	}
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.mu.Lock()
				cur := b.last
				b.mu.Unlock()
				fmt.Fprintf(p.w, "%-7s %s  %s\n", name, b.line(cur), status())
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// line is the plain line's count: done out of total and the time left.
func (b *phaseBar) line(cur int64) string {
	switch {
	case !b.bytes:
		return fmt.Sprintf("%ds / %ds", cur/1000, b.total/1000)
	case b.total < 0:
		return size(cur)
	case cur == 0:
		return fmt.Sprintf("%s / %s  eta ?", size(cur), size(b.total))
	}
	left := time.Duration(float64(time.Since(b.start)) * float64(b.total-cur) / float64(cur))
	return fmt.Sprintf("%s / %s  eta %v", size(cur), size(b.total), left.Round(time.Second))
}

func (b *phaseBar) set(cur int64) {
	if b.bar != nil {
		b.bar.SetCurrent(cur)
		return
	}
	b.mu.Lock()
	b.last = cur
	b.mu.Unlock()
}

// finish completes the bar (or stops the lines) and prints nothing more.
func (b *phaseBar) finish() {
	if b.bar != nil {
		b.bar.SetTotal(-1, true) // complete at the current value
		return
	}
	close(b.stop)
	b.done.Wait()
}

// wait lets the bars render their last state.
func (p *progress) wait() {
	if p.bars != nil {
		p.bars.Wait()
	}
}

// mbps is a rate in MB/s (10^6 bytes per second).
func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds() / 1e6
}

// size formats a byte count.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
