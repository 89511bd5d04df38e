package wheel

import (
	"fmt"
	"sync"
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestCancelCollectedFromCallback arms n timers for the same tick, more than
// one batch, and each callback cancels the next timer. Advance has collected
// all of them before any callback runs, so each Cancel hits a timer that is
// either in the current batch (firing) or still in the expired list
// (pending) or already fired. Every timer must end exactly one way: fired,
// or stopped by a Cancel that returned true, never both.
func TestCancelCollectedFromCallback(t *testing.T) {
	for _, shards := range []int{1, 4} {
		for _, n := range []int{2, batchSize, 3*batchSize + 5} {
			t.Run(fmt.Sprintf("shards=%d/n=%d", shards, n), func(t *testing.T) {
				w := newTestWheel(t, shards)
				timers := make([]Timer, n)
				fired := make([]bool, n)
				cancelled := make([]bool, n)
				for i := range timers {
					timers[i].Init(w, func(monotime.Time) {
						if cancelled[i] {
							t.Errorf("timer %d fired after Cancel returned true", i)
						}
						fired[i] = true
						next := (i + 1) % n
						if w.Cancel(&timers[next]) {
							if fired[next] {
								t.Errorf("Cancel of fired timer %d returned true", next)
							}
							cancelled[next] = true
						}
					})
					w.Add(&timers[i], at(9))
				}
				got := w.Advance(at(9))
				nf := 0
				for i := range n {
					if fired[i] == cancelled[i] {
						t.Fatalf("timer %d: fired %v cancelled %v, want exactly one", i, fired[i], cancelled[i])
					}
					if fired[i] {
						nf++
					}
				}
				if nf != got || nf == 0 || w.Len() != 0 {
					t.Fatalf("Advance returned %d, %d fired, %d pending", got, nf, w.Len())
				}
				checkInvariants(t, w)
			})
		}
	}
}

// TestCancelCollectedFromOtherGoroutine: while Advance runs the first
// callback of a tick, another goroutine cancels or resets every other timer
// of that tick, which Advance has already collected (some in its current
// batch, some still in the expired list). Cancel and Reset must report
// true and the stopped callbacks must not run; reset timers fire at their
// new deadline.
func TestCancelCollectedFromOtherGoroutine(t *testing.T) {
	for _, op := range []string{"cancel", "reset"} {
		t.Run(op, func(t *testing.T) {
			w := newTestWheel(t, 1)
			const n = 2*batchSize + 3
			timers := make([]Timer, n)
			fires := make([]int, n)
			first := -1
			req := make(chan int)
			reply := make(chan []bool)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // the other goroutine
				defer wg.Done()
				for skip := range req {
					res := make([]bool, n)
					for j := range timers {
						if j == skip {
							continue
						}
						if op == "cancel" {
							res[j] = w.Cancel(&timers[j])
						} else {
							res[j] = w.Reset(&timers[j], at(20))
						}
					}
					reply <- res
				}
			}()
			for i := range timers {
				timers[i].Init(w, func(monotime.Time) {
					fires[i]++
					if first >= 0 {
						return
					}
					first = i
					req <- i
					for j, ok := range <-reply {
						if j != i && !ok {
							t.Errorf("%s of collected timer %d returned false", op, j)
						}
					}
				})
				w.Add(&timers[i], at(10))
			}
			if got := w.Advance(at(10)); got != 1 {
				t.Errorf("Advance fired %d, want only the first", got)
			}
			close(req)
			wg.Wait()
			for i, f := range fires {
				if f != b2i(i == first) {
					t.Fatalf("timer %d fired %d times at tick 10", i, f)
				}
			}
			checkInvariants(t, w)
			w.Advance(at(19))
			want := 0
			if op == "reset" {
				want = n - 1
			}
			if got := w.Advance(at(20)); got != want {
				t.Fatalf("at the reset deadline %d fired, want %d", got, want)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
