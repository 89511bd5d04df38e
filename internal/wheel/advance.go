package wheel

import "github.com/petrel-transport/petrel/internal/monotime"

// Advance is a two-phase pipeline, so that no callback runs under a lock:
//
//  1. Collect: for each shard, under its mutex, move the overdue list and
//     every slot due by now (cascading higher levels on the way) into the
//     shard's expired list, releasing the mutex every collectBudget timers.
//     Timers stay pending (and cancellable in O(1)).
//  2. Fire: for each shard, under its mutex, pop up to len(batch) expired
//     timers into the batch and mark them firing; release the mutex; for
//     each, win the firing->idle CAS and call the callback. A Cancel or
//     Reset that wins the CAS instead stops the callback.
//
// Timers armed during phase 2 go to the wheel or the overdue list, never to
// an expired list, so they wait for the next Advance. A timer postponed
// (Reset to a later deadline without the lock) after it was filed is
// re-filed instead of fired when Advance reaches it, in phase 1 or 2.

// batchSize bounds the timers popped per lock acquisition in phase 2.
const batchSize = 64

// batch is the fire phase's working set, owned by the goroutine in Advance.
type batch struct {
	timers    [batchSize]*Timer
	n, i      int  // timers[i:n] are collected and not yet called
	completed bool // Advance returned normally (no callback panicked)
}

// Advance moves the wheel's clock to now and runs the callback of every
// timer due by then (see the package doc for the exact guarantee), with no
// wheel lock held, on the calling goroutine, passing now. It returns the
// number of callbacks run. A now earlier than a previous call's does not
// move the clock back, but overdue timers still fire.
//
// Advance must not be called concurrently with itself or from a callback;
// it panics if it is. If a callback panics, the panic propagates; timers of
// that batch whose callbacks had not run are re-queued to fire in the next
// Advance.
func (w *Wheel) Advance(now monotime.Time) int {
	if !w.advancing.CompareAndSwap(false, true) {
		panic("wheel: concurrent or reentrant Advance")
	}
	defer w.finishAdvance()

	var target uint64
	if now > w.start {
		target = uint64(int64(now-w.start) / w.tick)
	}
	if target > w.clock.Load() {
		w.clock.Store(target)
	}
	var due [maxShards / 64]uint64 // bit i: shard i has expired timers
	for i := range w.shards {
		s := &w.shards[i]
		if s.wake.Load() > target {
			continue // nothing due in this shard: its clock catches up later
		}
		s.mu.Lock()
		for !s.collectLocked(target, collectBudget) {
			s.mu.Unlock() // let Add, Reset and Cancel in
			s.mu.Lock()
		}
		if s.heads[listExpired] != nil {
			due[i/64] |= 1 << (i % 64)
		}
		s.mu.Unlock()
	}

	fired := 0
	b := &w.batch
	for i := range w.shards {
		if due[i/64]&(1<<(i%64)) == 0 {
			continue
		}
		s := &w.shards[i]
		for {
			s.mu.Lock()
			n := 0
			for n < batchSize {
				t := s.heads[listExpired]
				if t == nil {
					break
				}
				s.unlinkLocked(t)
				if s.popLocked(t) {
					b.timers[n] = t
					n++
				}
			}
			s.mu.Unlock()
			if n == 0 {
				break
			}
			b.n, b.i = n, 0
			for b.i < b.n {
				t := b.timers[b.i]
				b.timers[b.i] = nil
				b.i++
				if old := t.word.Load(); stateOf(old) == stateFiring &&
					t.word.CompareAndSwap(old, pack(stateIdle, wantOf(old))) {
					fired++
					t.fn(now)
				}
			}
		}
	}
	b.completed = true
	return fired
}

// finishAdvance ends an Advance. If a callback panicked, it re-queues the
// rest of the batch (still firing, unless a Cancel or Reset took them) and
// every expired list to the overdue lists, so that those timers are
// neither lost nor stuck pending: they fire in the next Advance.
func (w *Wheel) finishAdvance() {
	b := &w.batch
	if !b.completed {
		for ; b.i < b.n; b.i++ {
			t := b.timers[b.i]
			b.timers[b.i] = nil
			s := t.shard
			s.mu.Lock()
			if old := t.word.Load(); stateOf(old) == stateFiring &&
				t.word.CompareAndSwap(old, pack(statePending, wantOf(old))) {
				s.pushOverdueLocked(t)
				s.count++
			}
			s.mu.Unlock()
		}
		for i := range w.shards {
			s := &w.shards[i]
			s.mu.Lock()
			for t := s.heads[listExpired]; t != nil; t = s.heads[listExpired] {
				s.unlinkLocked(t)
				s.pushOverdueLocked(t)
			}
			s.mu.Unlock()
		}
	}
	b.n, b.i, b.completed = 0, 0, false
	w.advancing.Store(false)
}

// popLocked takes t, just unlinked from the expired list, for firing:
// pending -> firing. If t was postponed past the wheel's clock meanwhile,
// it is re-filed at its new tick instead and popLocked reports false. (The
// clock, not the shard's now: an overdue timer of a lagging shard is due
// though it wants a tick after that shard's now. And now <= clock always.)
func (s *shard) popLocked(t *Timer) bool {
	for {
		old := t.word.Load() // pending: only lock holders end that state
		if want := wantOf(old); want > s.w.clock.Load() {
			s.placeLocked(t, want)
			return false
		}
		if t.word.CompareAndSwap(old, pack(stateFiring, wantOf(old))) {
			s.count--
			return true
		}
	}
}
