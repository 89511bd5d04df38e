package monotime

import (
	"testing"
	"time"
)

func TestNowIsMonotonicAndNonZero(t *testing.T) {
	prev := Now()
	if prev.IsZero() {
		t.Fatal("Now returned the zero Time")
	}
	for range 1000 {
		n := Now()
		if n.Before(prev) {
			t.Fatalf("Now went backwards: %d < %d", n, prev)
		}
		prev = n
	}
}

func TestArithmetic(t *testing.T) {
	var base Time = 1000
	if got := base.Add(5 * time.Nanosecond); got != 1005 {
		t.Fatalf("Add: got %d", got)
	}
	if got := Time(1005).Sub(base); got != 5 {
		t.Fatalf("Sub: got %v", got)
	}
	if !base.Before(1001) || base.After(1001) || !Time(1001).After(base) {
		t.Fatal("Before/After disagree with <")
	}
}

func TestNowAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Now() }); n != 0 {
		t.Fatalf("Now allocates %v", n)
	}
}
