package core

import (
	"sync"
	"time"
)

// inflight counts the Node's work in flight (dials, session processing
// goroutines, timer-wheel advances, and the user calls that create records
// or install or end sessions: AddPeer, Accept, Connect, Disconnect,
// RemoveIfMatches, Forget; see Node.enter) so Close
// can wait for it, with a bound. Unlike a sync.WaitGroup it refuses new work
// once closing has begun, so no work can start after Close decided to wait.
//
// Guard map: mu guards every field; it is held only for counter updates,
// never across the work itself or the wait.
type inflight struct {
	mu      sync.Mutex
	n       int
	closing bool
	idle    chan struct{} // closed when closing and n reaches 0
}

// add registers one unit of work; it reports false (and registers nothing)
// once close has been called.
func (w *inflight) add() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return false
	}
	w.n++
	return true
}

// done ends one unit registered by a successful add.
func (w *inflight) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n--
	if w.n < 0 {
		panic("core: inflight.done without add")
	}
	if w.n == 0 && w.closing {
		close(w.idle)
	}
}

// close refuses further work and returns a channel closed when the work in
// flight has drained. Idempotent.
func (w *inflight) close() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closing {
		w.closing = true
		w.idle = make(chan struct{})
		if w.n == 0 {
			close(w.idle)
		}
	}
	return w.idle
}

// drain closes w and waits for its work, at most timeout. It reports whether
// everything drained. It never sleeps a fixed time: it returns as soon as
// the last unit is done.
func (w *inflight) drain(timeout time.Duration) bool {
	idle := w.close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}
