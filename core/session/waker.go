package session

// waker parks goroutines until a condition guarded by the session's mu may
// have changed, without allocating per wait (closing a fresh channel per
// wake cost one allocation per parked call: two per request-response round
// trip). It keeps one channel with room for one token, made at the first
// wait. wake leaves a token if anyone waits; each goroutine it wakes
// passes the token on while others still wait, so every waiter re-checks
// its condition (wake-all by chain). A token left by a waiter that gave up
// costs the next waiter one spurious re-check.
//
// Every method runs with the session's mu held.
type waker struct {
	ch      chan struct{}
	waiting int
}

// prepare registers a waiter and returns the channel to wait on (after
// releasing mu).
func (w *waker) prepare() <-chan struct{} {
	if w.ch == nil {
		w.ch = make(chan struct{}, 1)
	}
	w.waiting++
	return w.ch
}

// done unregisters a waiter that was woken (woken true: the wake goes on
// to the next waiter) or gave up.
func (w *waker) done(woken bool) {
	w.waiting--
	if woken {
		w.wake()
	}
}

// wake wakes the waiters, if any.
func (w *waker) wake() {
	if w.waiting == 0 {
		return
	}
	select {
	case w.ch <- struct{}{}:
	default: // a token is already there
	}
}
