package ring

import (
	"math"
	"slices"
	"sync"
)

// EstimatorConfig configures an Estimator. The zero value is usable: every
// field documents its zero-value default.
type EstimatorConfig struct {
	// Window is the number of most recent events the estimator keeps; older
	// events are forgotten entirely. Once Window events have been reported
	// after a change of behaviour, no event from before the change remains.
	// Zero means 1024.
	Window int
	// HalfLife is the recency bias, in events: an event k reports old weighs
	// 2^(-k/HalfLife). Zero means Window/4; a negative value disables decay
	// (every event in the window weighs 1).
	HalfLife int
	// Shrinkage is the prior weight, in events of weight 1, that pulls each
	// peer's offset towards 0: offset = sum(w*residual) / (sum(w) + Shrinkage).
	// A peer with few events is thus judged mostly by the global curve.
	// Zero means 8; a negative value disables shrinkage.
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
// concurrent use. The fit is rebuilt lazily by the first query after a
// Report, in O(Window log Window); queries are O(log Window) otherwise and
// allocate nothing in steady state (scratch space is preallocated).
type Estimator[K comparable] struct {
	// immutable after NewEstimator
	window    int
	shrinkage float64
	decay     []float64 // decay[k] = weight of an event k reports old

	mu sync.Mutex // guards the fields below; never held across a callback
	// events is a ring buffer of the last len(events) reports; events[head]
	// is the oldest once the buffer is full.
	events []event[K]
	head   int
	dirty  bool            // a Report or Reset happened since the last fit
	pts    []point         // scratch: events sorted by distance, len <= window
	blocks []block         // the fitted curve; empty iff there are no events
	peers  map[K]peerStats // residual sums per peer with events in the window
}

// event is one reported outcome.
type event[K comparable] struct {
	peer    K
	dist    uint64
	outcome float64
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
	switch {
	case cfg.Shrinkage == 0:
		cfg.Shrinkage = 8
	case cfg.Shrinkage < 0 || math.IsNaN(cfg.Shrinkage):
		cfg.Shrinkage = 0
	}
	e := &Estimator[K]{
		window:    cfg.Window,
		shrinkage: cfg.Shrinkage,
		decay:     make([]float64, cfg.Window),
		events:    make([]event[K], 0, cfg.Window),
		pts:       make([]point, 0, cfg.Window),
		blocks:    make([]block, 0, cfg.Window),
		peers:     make(map[K]peerStats),
	}
	for k := range e.decay {
		e.decay[k] = 1
		if cfg.HalfLife > 0 {
			e.decay[k] = math.Exp2(-float64(k) / float64(cfg.HalfLife))
		}
	}
	return e
}

// Report records that asking peer about a location at ring distance dist
// (see Distance) gave outcome. NaN and infinite outcomes are ignored. When
// the window is full the oldest event is forgotten. It allocates nothing once
// the window has filled (a peer new to the estimator may grow its map at the
// next fit).
func (e *Estimator[K]) Report(peer K, dist uint64, outcome float64) {
	if math.IsNaN(outcome) || math.IsInf(outcome, 0) {
		return
	}
	ev := event[K]{peer: peer, dist: dist, outcome: outcome}
	e.mu.Lock()
	if len(e.events) < e.window {
		e.events = append(e.events, ev)
	} else {
		e.events[e.head] = ev
		e.head++
		if e.head == e.window {
			e.head = 0
		}
	}
	e.dirty = true
	e.mu.Unlock()
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
	return len(e.events)
}

// Reset forgets every event, the curve and every offset. Capacity is kept.
func (e *Estimator[K]) Reset() {
	e.mu.Lock()
	clear(e.events) // drop references held by K
	e.events = e.events[:0]
	e.head = 0
	e.dirty = true
	e.mu.Unlock()
}

// CurveStep is one step of the fitted curve: for distances in [From, To]
// (and up to the next step's From) the global estimate is Value, fitted from
// Weight worth of events.
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
		dst = append(dst, CurveStep{From: b.lo, To: b.hi, Value: b.mean(), Weight: b.sumW})
	}
	return dst
}

func (e *Estimator[K]) offsetLocked(peer K) float64 {
	s, ok := e.peers[peer]
	if !ok || s.sumW+e.shrinkage <= 0 {
		return 0
	}
	return s.sumWR / (s.sumW + e.shrinkage)
}

// fitLocked rebuilds the curve and the per-peer residual sums if events
// changed since the last fit. e.mu must be held.
func (e *Estimator[K]) fitLocked() {
	if !e.dirty {
		return
	}
	e.dirty = false
	n := len(e.events)
	// Event i (in buffer order) is age reports old; the newest has age 0.
	newest := e.head - 1 // the last written slot
	if n < e.window {
		newest = n - 1
	}
	age := func(i int) int {
		a := newest - i
		if a < 0 {
			a += n
		}
		return a
	}
	e.pts = e.pts[:0]
	for i := range e.events {
		ev := &e.events[i]
		e.pts = append(e.pts, point{x: ev.dist, y: ev.outcome, w: e.decay[age(i)]})
	}
	slices.SortFunc(e.pts, func(a, b point) int {
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	})
	e.blocks = pav(e.pts, e.blocks)
	clear(e.peers)
	for i := range e.events {
		ev := &e.events[i]
		w := e.decay[age(i)]
		r := ev.outcome - e.blocks[blockAt(e.blocks, ev.dist)].mean()
		s := e.peers[ev.peer]
		s.sumWR += w * r
		s.sumW += w
		e.peers[ev.peer] = s
	}
}
