package netem

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

func TestQueueOrder(t *testing.T) {
	type push struct {
		at monotime.Time
		v  int
	}
	tests := []struct {
		name   string
		pushes []push
		now    monotime.Time
		want   []int
		next   monotime.Time // 0 and left empty: nothing pending after
	}{
		{"empty", nil, 100, nil, 0},
		{"by time", []push{{30, 1}, {10, 2}, {20, 3}}, 100, []int{2, 3, 1}, 0},
		{"ties keep push order", []push{{10, 1}, {10, 2}, {5, 3}, {10, 4}, {5, 5}}, 100, []int{3, 5, 1, 2, 4}, 0},
		{"due is inclusive", []push{{10, 1}, {11, 2}}, 10, []int{1}, 11},
		{"nothing due", []push{{10, 1}}, 9, nil, 10},
		{"boundary between ties", []push{{10, 1}, {11, 2}, {10, 3}, {11, 4}}, 10, []int{1, 3}, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Queue[int]
			for _, p := range tt.pushes {
				q.Push(p.at, p.v)
			}
			got := q.PopDue(tt.now, nil)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("PopDue(%d) = %v, want %v", tt.now, got, tt.want)
			}
			next, ok := q.Next()
			if ok != (tt.next != 0) || next != tt.next {
				t.Fatalf("Next = %d, %v; want %d", next, ok, tt.next)
			}
			if q.Len() != len(tt.pushes)-len(tt.want) {
				t.Fatalf("Len = %d", q.Len())
			}
		})
	}
}

func TestQueueDrainClearsReferences(t *testing.T) {
	var q Queue[*int]
	for i := range 10 {
		q.Push(monotime.Time(10-i), new(int))
	}
	got := q.Drain(nil)
	if len(got) != 10 || q.Len() != 0 {
		t.Fatalf("Drain returned %d, left %d", len(got), q.Len())
	}
	// The backing array must not keep the popped pointers alive.
	for i, e := range q.h[:cap(q.h)] {
		if e.v != nil {
			t.Fatalf("slot %d still holds a popped value", i)
		}
	}
}

// refQueue is the slow reference: a slice sorted stably by time on every
// pop, which keeps push order among equal times by construction.
type refQueue struct {
	items []refItem
}

type refItem struct {
	at monotime.Time
	v  int
}

func (r *refQueue) push(at monotime.Time, v int) { r.items = append(r.items, refItem{at, v}) }

func (r *refQueue) popDue(now monotime.Time) []int {
	slices.SortStableFunc(r.items, func(a, b refItem) int { return cmp.Compare(a.at, b.at) })
	var out []int
	i := 0
	for ; i < len(r.items) && r.items[i].at <= now; i++ {
		out = append(out, r.items[i].v)
	}
	r.items = r.items[i:]
	return out
}

func (r *refQueue) next() (monotime.Time, bool) {
	if len(r.items) == 0 {
		return 0, false
	}
	return slices.MinFunc(r.items, func(a, b refItem) int { return cmp.Compare(a.at, b.at) }).at, true
}

// TestQueueAgainstReference runs random pushes (with many equal times) and
// pops against the sorting reference.
func TestQueueAgainstReference(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var q Queue[int]
		var ref refQueue
		now := monotime.Time(0)
		v := 0
		var got []int
		for range 2000 {
			if rng.IntN(3) > 0 {
				due := now + monotime.Time(rng.IntN(40))
				q.Push(due, v)
				ref.push(due, v)
				v++
				continue
			}
			now += monotime.Time(rng.IntN(15))
			got = q.PopDue(now, got[:0])
			want := ref.popDue(now)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: PopDue(%d) = %v, want %v", seed, now, got, want)
			}
			qn, qok := q.Next()
			rn, rok := ref.next()
			if qn != rn || qok != rok {
				t.Fatalf("seed %d: Next = %d,%v; want %d,%v", seed, qn, qok, rn, rok)
			}
		}
	}
}
