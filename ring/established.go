package ring

import (
	"errors"
	"slices"
	"sync"
)

// Connection targets of the established set (defaults of EstablishedConfig).
// Not from an RFC: they are the classic small-world degree bounds of
// Freenet-style routing (Sandberg, "Searching in a Small World", 2005, and
// Freenet's default minimum/maximum peer counts), where routing needs enough
// neighbours to find short paths and each extra one costs keepalives.
const (
	DefaultMinEstablished = 25
	DefaultMaxEstablished = 200
)

// ErrEstablishedFull is returned when a peer would be added to an established
// set that already holds its Max.
var ErrEstablishedFull = errors.New("ring: established set is full")

// EstablishedConfig configures an Established set. The zero value is usable.
type EstablishedConfig struct {
	// Min is the number of established peers below which the node should look
	// for more (see Deficit). Zero means DefaultMinEstablished (25).
	Min int
	// Max is the most peers the set holds; Add beyond it fails with
	// ErrEstablishedFull. Zero means DefaultMaxEstablished (200). Max must be
	// at least Min.
	Max int
}

// Neighbor is an established peer and its ring location.
type Neighbor[K comparable] struct {
	Key K
	Loc Location
}

// Established is the set of established peers indexed by ring location, so
// that the k peers closest to a location are found in O(log n + k) without
// scanning every peer. It is safe for concurrent use: queries share a read
// lock, Add and Remove (rare: promotions and disconnects) take the write lock
// and cost O(n) memory moves.
type Established[K comparable] struct {
	// immutable after NewEstablished
	min, max int

	mu sync.RWMutex // guards the fields below; a leaf lock (nothing is called under it)
	// byLoc holds every member sorted by Loc (ties in any order); it and locOf
	// always hold the same members.
	byLoc []Neighbor[K]
	locOf map[K]Location
}

// NewEstablished returns an empty set configured by cfg. It returns an error
// if cfg is invalid (negative values, or Max < Min after defaults).
func NewEstablished[K comparable](cfg EstablishedConfig) (*Established[K], error) {
	if cfg.Min < 0 || cfg.Max < 0 {
		return nil, errors.New("ring: negative established target")
	}
	if cfg.Min == 0 {
		cfg.Min = DefaultMinEstablished
	}
	if cfg.Max == 0 {
		cfg.Max = DefaultMaxEstablished
	}
	if cfg.Max < cfg.Min {
		return nil, errors.New("ring: established Max below Min")
	}
	return &Established[K]{
		min:   cfg.Min,
		max:   cfg.Max,
		byLoc: make([]Neighbor[K], 0, min(cfg.Max, 1024)),
		locOf: make(map[K]Location),
	}, nil
}

// Min returns the minimum connection target.
func (s *Established[K]) Min() int { return s.min }

// Max returns the maximum connection target, the capacity of the set.
func (s *Established[K]) Max() int { return s.max }

// Len returns the number of established peers.
func (s *Established[K]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byLoc)
}

// Deficit returns how many peers the set lacks to reach Min (0 if none).
func (s *Established[K]) Deficit() int { return max(0, s.min-s.Len()) }

// Location returns the location of an established peer.
func (s *Established[K]) Location(key K) (Location, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	loc, ok := s.locOf[key]
	return loc, ok
}

// Add inserts key at loc. If key is already a member, Add moves it to loc and
// returns nil (a member never counts twice). It returns ErrEstablishedFull,
// changing nothing, if key is new and the set holds Max peers.
func (s *Established[K]) Add(key K, loc Location) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.locOf[key]; ok {
		if old == loc {
			return nil
		}
		s.removeLocked(key, old)
	} else if len(s.byLoc) >= s.max {
		return ErrEstablishedFull
	}
	s.locOf[key] = loc
	i := s.searchLocked(loc)
	s.byLoc = slices.Insert(s.byLoc, i, Neighbor[K]{Key: key, Loc: loc})
	return nil
}

// Remove deletes key and reports whether it was a member.
func (s *Established[K]) Remove(key K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc, ok := s.locOf[key]
	if ok {
		s.removeLocked(key, loc)
	}
	return ok
}

func (s *Established[K]) removeLocked(key K, loc Location) {
	delete(s.locOf, key)
	for i := s.searchLocked(loc); i < len(s.byLoc) && s.byLoc[i].Loc == loc; i++ {
		if s.byLoc[i].Key == key {
			s.byLoc = slices.Delete(s.byLoc, i, i+1)
			return
		}
	}
	panic("ring: established index out of sync") // locOf and byLoc disagree: a bug
}

// searchLocked returns the index of the first member with Loc >= loc.
func (s *Established[K]) searchLocked(loc Location) int {
	lo, hi := 0, len(s.byLoc)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.byLoc[m].Loc < loc {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Closest appends to dst the min(k, Len()) members closest to target by ring
// Distance, nearest first, and returns the extended slice. Among members at
// equal distance the one clockwise from target comes first. It costs
// O(log n + k) and allocates nothing when dst has capacity for k more.
//
// It walks outwards from target in both directions at once (a two-pointer
// merge of the clockwise and counter-clockwise neighbours, with wraparound);
// the pointers never cross because at most n members are taken.
func (s *Established[K]) Closest(target Location, k int, dst []Neighbor[K]) []Neighbor[K] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.byLoc)
	k = min(k, n)
	if k <= 0 {
		return dst
	}
	right := s.searchLocked(target) % n // first clockwise candidate (may be at target)
	left := right - 1                   // first counter-clockwise candidate
	if left < 0 {
		left = n - 1
	}
	for range k {
		cw := uint64(s.byLoc[right].Loc - target) // clockwise distance to the right candidate
		ccw := uint64(target - s.byLoc[left].Loc) // counter-clockwise distance to the left one
		if cw <= ccw {
			dst = append(dst, s.byLoc[right])
			if right++; right == n {
				right = 0
			}
		} else {
			dst = append(dst, s.byLoc[left])
			if left--; left < 0 {
				left = n - 1
			}
		}
	}
	return dst
}

// Snapshot appends every member, in location order, to dst.
func (s *Established[K]) Snapshot(dst []Neighbor[K]) []Neighbor[K] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append(dst, s.byLoc...)
}
