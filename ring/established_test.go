package ring

import (
	"errors"
	randv2 "math/rand/v2"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func mustEstablished[K comparable](t testing.TB, cfg EstablishedConfig) *Established[K] {
	t.Helper()
	s, err := NewEstablished[K](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// closestScan is the baseline: it scans every member and keeps the k nearest
// by insertion into a small sorted buffer (O(n*k) worst case, O(n) typical).
func (s *Established[K]) closestScan(target Location, k int, dst []Neighbor[K]) []Neighbor[K] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k = min(k, len(s.byLoc))
	if k <= 0 {
		return dst
	}
	base := len(dst)
	for _, m := range s.byLoc {
		d := Distance(target, m.Loc)
		top := dst[base:]
		if len(top) == k {
			if d >= Distance(target, top[k-1].Loc) {
				continue
			}
			dst = dst[:len(dst)-1]
		}
		i := base + len(dst[base:])
		dst = append(dst, m)
		for ; i > base && Distance(target, dst[i-1].Loc) > d; i-- {
			dst[i] = dst[i-1]
		}
		dst[i] = m
	}
	return dst
}

func TestEstablishedConfig(t *testing.T) {
	tests := []struct {
		name     string
		cfg      EstablishedConfig
		min, max int
		err      bool
	}{
		{"defaults", EstablishedConfig{}, 25, 200, false},
		{"explicit", EstablishedConfig{Min: 2, Max: 3}, 2, 3, false},
		{"max below min", EstablishedConfig{Min: 10, Max: 5}, 0, 0, true},
		{"negative", EstablishedConfig{Min: -1}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewEstablished[int](tc.cfg)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && (s.Min() != tc.min || s.Max() != tc.max) {
				t.Fatalf("Min, Max = %d, %d; want %d, %d", s.Min(), s.Max(), tc.min, tc.max)
			}
		})
	}
}

func TestEstablishedAddRemove(t *testing.T) {
	s := mustEstablished[string](t, EstablishedConfig{Min: 2, Max: 3})
	if d := s.Deficit(); d != 2 {
		t.Fatalf("Deficit = %d, want 2", d)
	}
	for i, k := range []string{"a", "b", "c"} {
		if err := s.Add(k, Location(i*100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add("d", 5); !errors.Is(err, ErrEstablishedFull) {
		t.Fatalf("Add beyond Max: %v, want ErrEstablishedFull", err)
	}
	if err := s.Add("a", 0); err != nil {
		t.Fatalf("re-Add of a member: %v", err)
	}
	if err := s.Add("a", 250); err != nil { // move, even when full
		t.Fatalf("move of a member: %v", err)
	}
	if loc, ok := s.Location("a"); !ok || loc != 250 {
		t.Fatalf("Location(a) = %v, %v", loc, ok)
	}
	if got := s.Snapshot(nil); !slices.Equal(got, []Neighbor[string]{{"b", 100}, {"c", 200}, {"a", 250}}) {
		t.Fatalf("Snapshot = %v", got)
	}
	if !s.Remove("b") || s.Remove("b") {
		t.Fatal("Remove must report membership exactly once")
	}
	if s.Len() != 2 || s.Deficit() != 0 {
		t.Fatalf("Len %d Deficit %d", s.Len(), s.Deficit())
	}
}

func TestClosestMatchesScan(t *testing.T) {
	rng := randv2.New(randv2.NewPCG(21, 22))
	tests := []struct {
		name   string
		n      int
		spread uint64 // locations drawn below spread, then rotated
		dups   bool
	}{
		{"empty", 0, 0, false},
		{"one", 1, 0, false},
		{"few", 5, 0, false},
		{"uniform", 500, 0, false},
		{"clustered near wrap", 200, 1 << 20, false},
		{"duplicate locations", 300, 64, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustEstablished[int](t, EstablishedConfig{Min: 1, Max: 1000})
			rot := ^uint64(0) - tc.spread/2 // clusters straddle 0
			for i := range tc.n {
				loc := rng.Uint64()
				if tc.spread != 0 {
					loc = rng.Uint64N(tc.spread) + rot
				}
				if err := s.Add(i, Location(loc)); err != nil {
					t.Fatal(err)
				}
			}
			var got, want []Neighbor[int]
			for range 300 {
				target := Location(rng.Uint64())
				if tc.spread != 0 && rng.IntN(2) == 0 {
					target = Location(rng.Uint64N(tc.spread) + rot)
				}
				for _, k := range []int{0, 1, 8, tc.n, tc.n + 3} {
					got = s.Closest(target, k, got[:0])
					want = s.closestScan(target, k, want[:0])
					if len(got) != min(k, tc.n) || len(want) != len(got) {
						t.Fatalf("k=%d: got %d, scan %d, n %d", k, len(got), len(want), tc.n)
					}
					seen := map[int]bool{}
					for i := range got {
						if dg, dw := Distance(target, got[i].Loc), Distance(target, want[i].Loc); dg != dw {
							t.Fatalf("k=%d rank %d: distance %d, scan %d", k, i, dg, dw)
						}
						if seen[got[i].Key] {
							t.Fatalf("k=%d: %d returned twice", k, got[i].Key)
						}
						seen[got[i].Key] = true
					}
				}
			}
		})
	}
}

func TestClosestDoesNotAllocate(t *testing.T) {
	s := mustEstablished[int](t, EstablishedConfig{Max: 1000})
	rng := randv2.New(randv2.NewPCG(1, 2))
	for i := range 1000 {
		_ = s.Add(i, Location(rng.Uint64()))
	}
	buf := make([]Neighbor[int], 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf = s.Closest(Location(rng.Uint64()), 8, buf[:0]) }); n != 0 {
		t.Fatalf("Closest allocates %v", n)
	}
}

func TestEstablishedConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := mustEstablished[int](t, EstablishedConfig{Min: 1, Max: 64})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := randv2.New(randv2.NewPCG(uint64(g), 3))
			var buf []Neighbor[int]
			for range 2000 {
				key := rng.IntN(128)
				switch rng.IntN(3) {
				case 0:
					if err := s.Add(key, Location(rng.Uint64())); err != nil && !errors.Is(err, ErrEstablishedFull) {
						t.Error(err)
					}
				case 1:
					s.Remove(key)
				default:
					buf = s.Closest(Location(rng.Uint64()), 8, buf[:0])
					for i := 1; i < len(buf); i++ {
						if buf[i].Key == buf[i-1].Key {
							t.Error("duplicate in Closest")
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := s.Len(); n > 64 {
		t.Fatalf("Len %d above Max", n)
	}
	snap := s.Snapshot(nil)
	if !slices.IsSortedFunc(snap, func(a, b Neighbor[int]) int {
		if a.Loc < b.Loc {
			return -1
		}
		if a.Loc > b.Loc {
			return 1
		}
		return 0
	}) {
		t.Fatal("index not sorted")
	}
	for _, m := range snap {
		if loc, ok := s.Location(m.Key); !ok || loc != m.Loc {
			t.Fatalf("index and map disagree on %d", m.Key)
		}
	}
}

// BenchmarkClosest: the 8 closest among 10,000 established peers, by the
// location index (indexed) and by a scan of every peer (scan).
func BenchmarkClosest(b *testing.B) {
	const peers, k = 10_000, 8
	s := mustEstablished[int](b, EstablishedConfig{Max: peers})
	rng := randv2.New(randv2.NewPCG(10, 20))
	for i := range peers {
		if err := s.Add(i, Location(rng.Uint64())); err != nil {
			b.Fatal(err)
		}
	}
	targets := make([]Location, 1024)
	for i := range targets {
		targets[i] = Location(rng.Uint64())
	}
	for _, bc := range []struct {
		name string
		fn   func(Location, int, []Neighbor[int]) []Neighbor[int]
	}{{"indexed", s.Closest}, {"scan", s.closestScan}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]Neighbor[int], 0, k)
			i := 0
			for b.Loop() {
				buf = bc.fn(targets[i&1023], k, buf[:0])
				i++
			}
			if len(buf) != k {
				b.Fatalf("got %d", len(buf))
			}
		})
	}
}
