package core

// Transient and established connections (the Freenet transient-connection
// design). Every peer record that has connected carries a ring.Slot in its
// link; the Node's ring.TransientManager moves it between states:
//
//   - With a ring topology (RingConfig.Enabled), a new connection is
//     transient: both sides take a reservation at the handshake (the
//     responder before it answers, the initiator before it sends), bounded
//     by TransientBudget and expiring after TransientTTL, when its session
//     is closed. The application promotes it with the peer's location
//     (Node.Promote) into the established set, which Closest answers from.
//   - Without one (the default), a connection is established once Accept
//     returns it; the reservation only bounds the connections handshaken
//     but not yet accepted (and expires those left in the backlog).
//
// Over budget, the responder refuses the initiation with RefuseBusy (the
// initiator's Dial fails with a *secure.RefusedError saying so) and the
// initiator's own Dial fails with ErrTransientBudget.
//
// A peer's slot is dropped (its reservation returned, or its place in the
// established set given up) when it has no session left: a reconnecting
// established peer whose old session ended first starts transient again,
// since its location may have changed.

import (
	"errors"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/ring"
)

// ErrTransientBudget is Dial's error when the node's transient budget is
// full (with a ring topology, every outgoing connection starts transient).
var ErrTransientBudget = errors.New("core: transient connection budget is full")

// ErrTransientExpired is the disconnect reason of a connection whose
// transient reservation ran out before it was promoted or accepted.
var ErrTransientExpired = errors.New("core: transient connection expired before promotion")

// ErrEvicted is the disconnect reason of an established connection dropped
// to make room in a full established set for a peer nearer the node.
var ErrEvicted = errors.New("core: evicted from the full established set by a nearer peer")

// RingConfig configures the node's place in a ring topology. The zero value
// is no topology: plain client/server use.
type RingConfig struct {
	// Enabled makes new connections transient until Promote. False (zero):
	// a connection is established when Dial or Accept returns it.
	Enabled bool
	// Location is the node's own ring location; the established set keeps
	// the peers nearest it when full.
	Location ring.Location
	// MinEstablished and MaxEstablished are the established set's targets:
	// below Min the node should look for peers (Stats().Ring.Deficit);
	// Promote beyond Max evicts the member furthest from Location if the new
	// peer is nearer, and otherwise fails with ring.ErrEstablishedFull.
	// Zero: ring's defaults (25 and 200).
	MinEstablished, MaxEstablished int
	// TransientTTL is how long a connection may stay transient. Zero:
	// ring.DefaultTransientTTL (30 s).
	TransientTTL time.Duration
	// TransientBudget is the most transient connections at once. Zero:
	// ring.DefaultTransientBudget (2048).
	TransientBudget int
	// Hooks are called on reserve, promote, drop and expire (see
	// ring.Hooks); nil hooks are skipped.
	Hooks ring.Hooks[PeerKey]
	// Estimator configures the routing estimator (Node.Estimator). Zero:
	// ring's defaults.
	Estimator ring.EstimatorConfig
}

// RingStats is the state of the node's transient and established sets.
type RingStats struct {
	Transient   ring.TransientStats
	Established int // peers in the established set
	Deficit     int // established peers missing below MinEstablished
}

// initRing builds the transient manager, the established set and the
// estimator.
func (n *Node) initRing() error {
	rc := n.cfg.Ring
	est, err := ring.NewEstablished[PeerKey](ring.EstablishedConfig{Min: rc.MinEstablished, Max: rc.MaxEstablished})
	if err != nil {
		return err
	}
	hooks := rc.Hooks
	userExpire := hooks.Expire
	hooks.Expire = func(key PeerKey, now monotime.Time) {
		n.expireTransient(key, now)
		if userExpire != nil {
			userExpire(key, now)
		}
	}
	n.transient, err = ring.NewTransientManager(ring.TransientConfig[PeerKey]{
		Wheel: n.wheel, TTL: rc.TransientTTL, Budget: rc.TransientBudget,
		Established: est, Hooks: hooks,
	})
	if err != nil {
		return err
	}
	n.estimator = ring.NewEstimator[PeerKey](rc.Estimator)
	return nil
}

// reserve takes p's transient reservation for a new connection. An
// established peer needs none (its new connection replaces or loses to the
// old one); a peer already transient keeps its reservation.
func (n *Node) reserve(p *Peer, now monotime.Time) bool {
	s := &n.table.linkOf(p).slot
	if s.State() == ring.StateEstablished {
		return true
	}
	return n.transient.TryReserve(s, p.Location(), now)
}

// settleSlot drops p's slot if p has no session left. It runs under the
// peer's registry lock, so it cannot drop the reservation of a session being
// installed at the same time.
func (n *Node) settleSlot(p *Peer) {
	l := p.link.Load()
	if l == nil || l.slot.State() == ring.StateNone {
		return
	}
	l.mu.Lock()
	if p.session.Load() == nil {
		n.transient.Drop(&l.slot)
	}
	l.mu.Unlock()
}

// established ends the reservation of a connection handed to the
// application without a ring topology: it is established from now on.
func (n *Node) established(p *Peer) {
	if n.cfg.Ring.Enabled || p == nil {
		return
	}
	if l := p.link.Load(); l != nil && l.slot.IsTransient() {
		n.transient.Drop(&l.slot)
	}
}

// expireTransient closes the session of a peer whose reservation ran out.
func (n *Node) expireTransient(key PeerKey, now monotime.Time) {
	p, ok := n.table.Load(key)
	if !ok {
		return
	}
	if r := p.liveRef(); r != nil && n.table.removeExact(p, r) {
		n.ended(p, r, ErrTransientExpired, now)
	}
}

// Promote moves the transient connection of peer key into the established
// set at loc (the peer's ring location, recorded on its Peer). With the set
// at MaxEstablished, the member furthest from the node's location is
// evicted (its connection closed with ErrEvicted) if key is nearer;
// otherwise Promote fails with ring.ErrEstablishedFull. Other errors:
// ErrUnknownPeer, ring.ErrNotTransient (no reservation: never connected, or
// ended), ring.ErrExpired.
func (n *Node) Promote(key PeerKey, loc ring.Location) error {
	p, ok := n.table.Load(key)
	if !ok {
		return ErrUnknownPeer
	}
	l := n.table.linkOf(p)
	p.SetLocation(loc)
	err := n.transient.Promote(&l.slot, loc)
	if !errors.Is(err, ring.ErrEstablishedFull) {
		return err
	}
	self := n.cfg.Ring.Location
	var far ring.Neighbor[PeerKey]
	var farDist uint64
	for _, nb := range n.transient.Established().Snapshot(nil) {
		if d := self.Distance(nb.Loc); d >= farDist {
			far, farDist = nb, d
		}
	}
	if self.Distance(loc) >= farDist {
		return err
	}
	if q, ok := n.table.Load(far.Key); ok {
		if ql := q.link.Load(); ql != nil {
			n.transient.Drop(&ql.slot)
		}
		if r := q.liveRef(); r != nil && n.table.removeExact(q, r) {
			n.ended(q, r, ErrEvicted, n.clock.Now())
		}
	}
	return n.transient.Promote(&l.slot, loc)
}

// Closest appends to dst the (at most k) established peers nearest to loc,
// nearest first.
func (n *Node) Closest(loc ring.Location, k int, dst []ring.Neighbor[PeerKey]) []ring.Neighbor[PeerKey] {
	return n.transient.Established().Closest(loc, k, dst)
}

// Estimator is the node's routing estimator: record outcomes of requests
// routed through a peer (Report) and predict one for a peer and a distance
// (Estimate).
func (n *Node) Estimator() *ring.Estimator[PeerKey] { return n.estimator }

// RingState is the peer's transient state: ring.StateNone (no connection,
// or an established one without a ring topology), StateTransient,
// StateEstablished or StateExpired.
func (p *Peer) RingState() ring.State {
	if l := p.link.Load(); l != nil {
		return l.slot.State()
	}
	return ring.StateNone
}

func (n *Node) ringStats() RingStats {
	est := n.transient.Established()
	return RingStats{Transient: n.transient.Stats(), Established: est.Len(), Deficit: est.Deficit()}
}
