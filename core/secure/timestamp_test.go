package secure_test

import (
	"sync"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
)

func TestStamperStrictlyIncreasing(t *testing.T) {
	var s secure.Stamper
	prev := s.Next(wall0)
	if got := prev.Time(); got.After(wall0) || wall0.Sub(got) > 20*time.Millisecond {
		t.Fatalf("stamp %v for wall %v: whitened to more than a grain", got, wall0)
	}
	for i, wall := range []time.Time{wall0, wall0.Add(time.Nanosecond), wall0.Add(-time.Hour), wall0.Add(time.Second)} {
		ts := s.Next(wall)
		if !ts.After(prev) {
			t.Fatalf("stamp %d (%v) not after the previous (%v)", i, ts.Time(), prev.Time())
		}
		prev = ts
	}
}

func TestStamperConcurrent(t *testing.T) {
	var s secure.Stamper
	const workers, per = 4, 500
	out := make([][]secure.Timestamp, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for range per {
				out[g] = append(out[g], s.Next(wall0))
			}
		})
	}
	wg.Wait()
	seen := map[secure.Timestamp]bool{}
	for _, o := range out {
		for i, ts := range o {
			if seen[ts] || (i > 0 && !ts.After(o[i-1])) {
				t.Fatal("stamps repeat or go backwards")
			}
			seen[ts] = true
		}
	}
}

func TestTimestampTable(t *testing.T) {
	tab := secure.NewTimestampTable(2)
	var s secure.Stamper
	a, b, c := keyPair(t, "a").Public, keyPair(t, "b").Public, keyPair(t, "c").Public
	ta1, ta2 := s.Next(wall0), s.Next(wall0)
	if !tab.Advance(a, ta1) || tab.Advance(a, ta1) || !tab.Advance(a, ta2) || tab.Advance(a, ta1) {
		t.Fatal("per-key ordering")
	}
	tb := s.Next(wall0)
	if !tab.Advance(b, tb) || tab.Len() != 2 {
		t.Fatal("second key")
	}
	// a was advanced before b, so c evicts a: a's old stamp is accepted
	// again (the documented cost of the bound), b's is still refused.
	if !tab.Advance(c, s.Next(wall0)) || tab.Len() != 2 {
		t.Fatal("third key")
	}
	if tab.Advance(b, tb) {
		t.Fatal("b was evicted instead of the least recently advanced key")
	}
	if !tab.Advance(a, ta1) {
		t.Fatal("a should have been evicted")
	}
}
