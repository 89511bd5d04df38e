package wheel

import (
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestZeroAllocs: arming, re-arming, disarming and an Advance that fires
// (and cascades) timers allocate nothing.
func TestZeroAllocs(t *testing.T) {
	w := newTestWheel(t, 4)
	const n = 300
	timers := make([]Timer, n)
	fired := 0
	fn := func(monotime.Time) { fired++ }
	for i := range timers {
		timers[i].Init(w, fn)
	}
	now := uint64(0)
	tests := []struct {
		name string
		f    func()
	}{
		{"Add+Cancel", func() {
			for i := range timers {
				w.Add(&timers[i], at(now+uint64(i)*977+1))
			}
			for i := range timers {
				w.Cancel(&timers[i])
			}
		}},
		{"Reset", func() {
			for i := range timers {
				w.Reset(&timers[i], at(now+uint64(i)*131+1))
			}
			for i := range timers {
				w.Reset(&timers[i], at(now+uint64(i)*7919+1))
			}
		}},
		{"Cancel idle", func() {
			w.Cancel(&timers[0])
		}},
		{"Advance firing", func() {
			for i := range timers {
				w.Reset(&timers[i], at(now+uint64(i%70)+1)) // levels 0 and 1
			}
			now += 100
			if got := w.Advance(at(now)); got != n {
				t.Fatalf("Advance fired %d, want %d", got, n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(50, tc.f); a != 0 {
				t.Fatalf("%s allocates %v per run", tc.name, a)
			}
		})
	}
	if fired == 0 {
		t.Fatal("no timer fired")
	}
}
