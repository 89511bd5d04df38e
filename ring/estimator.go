package ring

import (
	"math"
	"sync"
)

// maxWindowHalfLives bounds Window/HalfLife, so the oldest event in the
// window still weighs at least 2^-256 of the newest: weights stay normal
// float64 values and no block of the fit can have zero weight.
const maxWindowHalfLives = 256

// EstimatorConfig configures an Estimator. The zero value is usable: every
// field documents its zero-value default.
type EstimatorConfig struct {
	// Window is the number of most recent events the estimator keeps; older
	// events are forgotten entirely. Once Window events have been reported
	// after a change of behaviour, no event from before the change remains.
	// Zero means 1024.
	Window int
	// HalfLife is the recency bias, in events: an event k reports old weighs
	// 2^(-k/HalfLife) of the newest. Zero means Window/4; a negative value
	// disables decay (every event in the window weighs 1). It is raised to
	// at least Window/256 so the oldest event keeps a usable weight.
	HalfLife int
	// Shrinkage is the prior weight, in units of the newest event's weight,
	// that pulls each peer's offset towards 0:
	// offset = sum(w*residual) / (sum(w) + Shrinkage). A peer with few
	// events is thus judged mostly by the global curve. Zero means 8; a
	// negative value disables shrinkage.
	Shrinkage float64
}

// Estimator predicts an outcome (a response time, or a failure as 0/1) of
// asking a peer about a location at some ring distance from it. It fits one
// monotone non-decreasing curve of outcome against distance, shared by all
// peers (weighted isotonic regression by pool-adjacent-violators), and layers
// a per-peer offset on top: the peer's shrunken weighted mean residual
// against that curve.
//
// An Estimator is a value with an owner: bounded by its Window, biased
// towards recent events by HalfLife, and cleared by Reset. It is safe for
// concurrent use. Events are kept sorted by distance as they arrive (O(Window)
// memory moves per Report), and the fit is rebuilt lazily by the first query
// after a Report in O(Window); other queries are O(log Window). Nothing
// allocates in steady state (a peer new to the estimator may grow its index).
type Estimator[K comparable] struct {
	// immutable after NewEstimator
	window    int
	halfLife  float64 // in events; 0 means no decay
	shrinkage float64

	mu sync.Mutex // guards the fields below; a leaf lock
	// ring is the reports in arrival order, to know which one to evict;
	// ring[head] is the oldest once len(ring) == window.
	ring []evRef
	head int
	seq  uint64 // sequence number of the next report
	base uint64 // stored weights are 2^((seq-base)/halfLife)
	// pts holds one point per event in the window, sorted by (x, seq).
	pts []point
	// Peers are interned to small indexes so the fit's per-peer sums are a
	// slice, not a map: peerIdx maps a key to its index, peerKey and refs
	// (events in the window) are indexed by it, free lists unused indexes.
	peerIdx map[K]int32
	peerKey []K
	refs    []int32
	free    []int32
	// The fit, rebuilt by fitLocked when dirty.
	dirty  bool
	blocks []block     // the curve; empty iff there are no events
	acc    []peerStats // residual sums per peer index
	unit   float64     // the newest event's stored weight at the fit
}

// evRef identifies an event's point in pts.
type evRef struct {
	x   uint64
	seq uint64
}

// peerStats accumulates a peer's weighted residuals against the curve.
type peerStats struct{ sumWR, sumW float64 }

// NewEstimator returns an empty Estimator configured by cfg (see
// EstimatorConfig for defaults).
func NewEstimator[K comparable](cfg EstimatorConfig) *Estimator[K] {
	if cfg.Window <= 0 {
		cfg.Window = 1024
	}
	if cfg.HalfLife == 0 {
		cfg.HalfLife = max(1, cfg.Window/4)
	}
	if cfg.HalfLife > 0 {
		cfg.HalfLife = max(cfg.HalfLife, (cfg.Window+maxWindowHalfLives-1)/maxWindowHalfLives)
	}
	switch {
	case cfg.Shrinkage == 0:
		cfg.Shrinkage = 8
	case cfg.Shrinkage < 0 || math.IsNaN(cfg.Shrinkage):
		cfg.Shrinkage = 0
	}
	return &Estimator[K]{
		window:    cfg.Window,
		halfLife:  float64(max(cfg.HalfLife, 0)),
		shrinkage: cfg.Shrinkage,
		ring:      make([]evRef, 0, cfg.Window),
		pts:       make([]point, 0, cfg.Window),
		blocks:    make([]block, 0, cfg.Window),
		peerIdx:   make(map[K]int32),
	}
}

// Report records that asking peer about a location at ring distance dist
// (see Distance) gave outcome. NaN and infinite outcomes are ignored. When
// the window is full the oldest event is forgotten.
func (e *Estimator[K]) Report(peer K, dist uint64, outcome float64) {
	if math.IsNaN(outcome) || math.IsInf(outcome, 0) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addLocked(peer, dist, outcome)
	e.dirty = true
}

// Estimate returns the predicted outcome for peer at ring distance dist: the
// global curve at dist plus the peer's offset (zero for a peer with no event
// in the window). ok is false, and the estimate 0, when the estimator holds
// no event. The result is not clamped: a failure-rate estimate may leave
// [0, 1] by the offset, and callers clamp if they need to.
func (e *Estimator[K]) Estimate(peer K, dist uint64) (estimate float64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fitLocked()
	if len(e.blocks) == 0 {
		return 0, false
	}
	return e.blocks[blockAt(e.blocks, dist)].mean() + e.offsetLocked(peer), true
}

// EstimateGlobal returns the global curve at dist, without any peer offset;
// ok is false when the estimator holds no event.
func (e *Estimator[K]) EstimateGlobal(dist uint64) (estimate float64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fitLocked()
	if len(e.blocks) == 0 {
		return 0, false
	}
	return e.blocks[blockAt(e.blocks, dist)].mean(), true
}

// Offset returns peer's offset against the global curve: its weighted mean
// residual shrunk towards 0 (see EstimatorConfig.Shrinkage); 0 for a peer
// with no event in the window.
func (e *Estimator[K]) Offset(peer K) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fitLocked()
	return e.offsetLocked(peer)
}

// Len returns the number of events in the window.
func (e *Estimator[K]) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pts)
}

// Reset forgets every event, the curve and every offset. Capacity is kept.
func (e *Estimator[K]) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ring, e.head = e.ring[:0], 0
	e.pts = e.pts[:0]
	e.base = e.seq
	clear(e.peerIdx)
	clear(e.peerKey) // drop references held by K
	e.peerKey, e.refs, e.free = e.peerKey[:0], e.refs[:0], e.free[:0]
	e.dirty = true
}

// CurveStep is one step of the fitted curve: for distances in [From, To]
// (and up to the next step's From) the global estimate is Value, fitted from
// Weight worth of events (in units of the newest event's weight).
type CurveStep struct {
	From, To uint64
	Value    float64
	Weight   float64
}

// Curve appends the fitted curve's steps, in increasing distance and
// non-decreasing Value, to dst and returns it (for display and tests).
func (e *Estimator[K]) Curve(dst []CurveStep) []CurveStep {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fitLocked()
	for i := range e.blocks {
		b := &e.blocks[i]
		dst = append(dst, CurveStep{From: b.lo, To: b.hi, Value: b.mean(), Weight: b.sumW / e.unit})
	}
	return dst
}

func (e *Estimator[K]) offsetLocked(peer K) float64 {
	idx, ok := e.peerIdx[peer]
	if !ok {
		return 0
	}
	s := e.acc[idx]
	den := s.sumW + e.shrinkage*e.unit
	if den <= 0 {
		return 0
	}
	return s.sumWR / den
}

// fitLocked rebuilds the curve and the per-peer residual sums if events
// changed since the last fit: O(Window), one pass for PAV and one walking
// the points and blocks together.
func (e *Estimator[K]) fitLocked() {
	if !e.dirty {
		return
	}
	e.dirty = false
	e.blocks = pav(e.pts, e.blocks)
	e.unit = e.newestWeightLocked()
	if n := len(e.peerKey); cap(e.acc) < n {
		e.acc = make([]peerStats, n, cap(e.peerKey))
	} else {
		e.acc = e.acc[:n]
		clear(e.acc)
	}
	j := 0
	for bi := range e.blocks {
		b := &e.blocks[bi]
		mean := b.mean()
		for ; j < len(e.pts) && e.pts[j].x <= b.hi; j++ {
			p := &e.pts[j]
			a := &e.acc[p.peer]
			a.sumWR += p.w * (p.y - mean)
			a.sumW += p.w
		}
	}
}
