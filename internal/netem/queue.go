package netem

import "github.com/petrel-transport/petrel/internal/monotime"

// Queue holds pending deliveries until they are due: a binary min-heap
// keyed by (time, push sequence), so values due at the same instant come
// out in the order they were pushed (a link that keeps order stays in order
// through the queue, and a simulation stays deterministic). The zero Queue
// is empty and ready to use.
//
// Push and PopDue cost O(log n) and allocate nothing once the backing
// array has grown to the largest number of values pending at once; popped
// slots are cleared so the queue keeps no pointer alive.
//
// A Queue is not safe for concurrent use.
type Queue[T any] struct {
	h   []entry[T]
	seq uint64 // pushes so far; the tie-break
}

type entry[T any] struct {
	at  monotime.Time
	seq uint64
	v   T
}

// less orders by time, then by push order.
func (a *entry[T]) less(b *entry[T]) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// Len returns the number of values pending.
func (q *Queue[T]) Len() int { return len(q.h) }

// Push adds v, due at at.
func (q *Queue[T]) Push(at monotime.Time, v T) {
	q.h = append(q.h, entry[T]{at: at, seq: q.seq, v: v})
	q.seq++
	q.up(len(q.h) - 1)
}

// Next returns when the earliest value is due, for arming a timer; ok is
// false if the queue is empty.
func (q *Queue[T]) Next() (at monotime.Time, ok bool) {
	if len(q.h) == 0 {
		return 0, false
	}
	return q.h[0].at, true
}

// PopDue removes every value due at or before now and appends them to dst
// in (time, push) order.
func (q *Queue[T]) PopDue(now monotime.Time, dst []T) []T {
	for len(q.h) > 0 && q.h[0].at <= now {
		dst = append(dst, q.pop())
	}
	return dst
}

// Drain removes every value, due or not, and appends them to dst in
// (time, push) order: for closing a link and returning its buffers.
func (q *Queue[T]) Drain(dst []T) []T {
	for len(q.h) > 0 {
		dst = append(dst, q.pop())
	}
	return dst
}

// pop removes and returns the minimum; the heap must not be empty.
func (q *Queue[T]) pop() T {
	h := q.h
	v := h[0].v
	last := len(h) - 1
	h[0] = h[last]
	h[last] = entry[T]{} // drop the reference held by the vacated slot
	q.h = h[:last]
	if last > 0 {
		q.down(0)
	}
	return v
}

func (q *Queue[T]) up(i int) {
	h := q.h
	e := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
}

func (q *Queue[T]) down(i int) {
	h := q.h
	n := len(h)
	e := h[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].less(&h[c]) {
			c = r
		}
		if !h[c].less(&e) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = e
}
