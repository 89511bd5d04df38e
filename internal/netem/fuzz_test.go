package netem

import (
	"slices"
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// FuzzQueue reads ops as a program against a Queue and the sorting
// reference: each byte b pushes a value due at now + b>>1 if b is even
// (small offsets, so equal times are common), or else advances now by
// b>>1 and pops what is due. Both must pop the same values in the same
// order and agree on Next and Len. The seed corpus is in
// testdata/fuzz/FuzzQueue.
func FuzzQueue(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		var q Queue[int]
		var ref refQueue
		var now monotime.Time
		var got []int
		for i, b := range ops {
			if b&1 == 0 {
				due := now + monotime.Time(b>>1)
				q.Push(due, i)
				ref.push(due, i)
			} else {
				now += monotime.Time(b >> 1)
				got = q.PopDue(now, got[:0])
				if want := ref.popDue(now); !slices.Equal(got, want) {
					t.Fatalf("op %d: PopDue(%d) = %v, want %v", i, now, got, want)
				}
			}
			qn, qok := q.Next()
			rn, rok := ref.next()
			if qn != rn || qok != rok || q.Len() != len(ref.items) {
				t.Fatalf("op %d: Next = %d,%v Len %d; want %d,%v Len %d", i, qn, qok, q.Len(), rn, rok, len(ref.items))
			}
		}
		if rest, want := q.Drain(nil), ref.popDue(monotime.Time(1<<62)); !slices.Equal(rest, want) {
			t.Fatalf("Drain = %v, want %v", rest, want)
		}
	})
}
