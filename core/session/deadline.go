package session

import (
	"sync"
	"time"
)

// deadline is one direction's deadline of a Stream, as net.Pipe keeps
// its own: a channel closed when the deadline passes, re-made when it is
// moved. A runtime timer per deadline set, not per packet: it is armed
// only by SetDeadline calls.
//
// Guard map: mu guards every field.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed once the deadline passed; nil: none set yet
}

// set moves the deadline to t (the zero time: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for its close to land
	}
	d.timer = nil
	closed := d.cancel != nil && isClosed(d.cancel)
	if t.IsZero() {
		if closed || d.cancel == nil {
			d.cancel = make(chan struct{})
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		if d.cancel == nil || !closed {
			if d.cancel == nil {
				d.cancel = make(chan struct{})
			}
			close(d.cancel)
		}
		return
	}
	if closed || d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	ch := d.cancel
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

// wait returns the channel closed when the deadline passes. It makes the
// channel if none was ever set: a deadline set later, while the caller is
// parked on it, must close the channel the caller waits on (set keeps an
// open channel).
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

// stop releases the timer (the stream ended).
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
