package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
	"github.com/petrel-transport/petrel/ring"
)

// Node owns one Table, one timer wheel and the lifecycle of every session
// to its peers: it installs sessions through the registry, runs each
// session's processing under its own context, supervises persistent peers,
// sends keepalives, reaps stale peers, forgets old records, and shuts all of
// it down in Close.
//
// Concurrency: every method is safe for concurrent use.
//
// Guard map: cfg, table, wheel, clock, ctx and cancel are immutable after
// New. Whether Close has begun is table.closed (atomic; the Node keeps no
// copy). work has its own lock (inflight). advMu serialises Advance (the
// wheel allows one advancing goroutine). rngMu guards cfg.Rand.
// closeOnce/closeErr belong to Close. No lock of the Node is held across a
// callback, a dial, a session method or a wheel call.
type Node struct {
	cfg   Config // immutable, defaults applied
	table *Table
	wheel *wheel.Wheel
	clock Clock

	ctx    context.Context    // root: cancelled first in Close
	cancel context.CancelFunc // cancels ctx
	work   inflight           // dials, session goroutines, advances, user calls that install or end sessions

	advMu sync.Mutex // serialises Advance
	rngMu sync.Mutex // guards cfg.Rand

	closeOnce sync.Once
	closeErr  error

	eng *engine // the transport of a Node opened by Listen; nil for New

	transient *ring.TransientManager[PeerKey] // transient and established connections (ringlink.go)
	estimator *ring.Estimator[PeerKey]
}

// peerTimers are the per-peer timers, embedded in the peer's link and bound
// to the Node's wheel when the link is created. One armed timer per purpose:
//
//   - liveness: while connected, the keepalive / idle-reap check; while
//     disconnected and not persistent, the forget-after-retention check
//     (reaper.go);
//   - retry: the supervised reconnect of a persistent peer (supervisor.go).
type peerTimers struct {
	liveness wheel.Timer
	retry    wheel.Timer
}

// New returns a running Node. Unless cfg.ManualAdvance is set it starts one
// goroutine that advances the timer wheel every cfg.Tick; Close stops it.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w, err := wheel.New(cfg.Clock.Now(), wheel.Config{Tick: cfg.Tick})
	if err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	n := &Node{
		cfg:   cfg,
		table: NewTable(cfg.Local, cfg.SizeHint),
		wheel: w,
		clock: cfg.Clock,
	}
	n.table.initLink = n.initLink
	if err := n.initRing(); err != nil {
		return nil, fmt.Errorf("core: Config.Ring: %w", err)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if !cfg.ManualAdvance {
		n.work.add() // cannot fail: nothing has closed yet
		go n.drive()
	}
	return n, nil
}

// initLink binds a new link's timers to the wheel (called once per peer,
// before the link is published).
func (n *Node) initLink(p *Peer, l *link) {
	l.timers.liveness.Init(n.wheel, func(now monotime.Time) { n.onLiveness(p, now) })
	l.timers.retry.Init(n.wheel, func(now monotime.Time) { n.onRetry(p, now) })
	n.transient.InitSlot(&l.slot, p.key)
}

// Local returns the node's identity.
func (n *Node) Local() PeerKey { return n.cfg.Local }

// Table returns the node's peer table, read-only (see TableView). Session
// installation and removal go through the Node (Dial, Accept, Connect,
// Disconnect, Forget) so that callbacks, processing contexts and timers
// follow.
func (n *Node) Table() TableView { return TableView{n.table} }

// Done returns a channel closed when Close begins (the root context's
// Done).
func (n *Node) Done() <-chan struct{} { return n.ctx.Done() }

// Stats summarises the node's table (see Table.Stats) and its transport.
func (n *Node) Stats() Stats {
	st := n.table.Stats()
	if n.eng != nil {
		st.Transport = n.eng.stats()
	}
	st.Ring = n.ringStats()
	return st
}

// Broadcast calls f for every peer with a live session, without holding any
// lock across f, until f returns false (see Table.RangeLive).
func (n *Node) Broadcast(f func(p *Peer, s Session) bool) { n.table.RangeLive(f) }

// AddPeer records a peer at addr (an existing record keeps its address
// unless addr is valid, in which case it moves there). If persistent, the
// peer is supervised: the node dials it now if it is not connected, redials
// after every disconnect with backoff, and never forgets it. A record that
// is not persistent is forgotten once it has been disconnected for
// Config.Retention. Once Close has begun it returns ErrClosed and creates
// nothing.
func (n *Node) AddPeer(key PeerKey, addr netip.AddrPort, persistent bool) (*Peer, error) {
	if key == n.cfg.Local {
		return nil, ErrSelf
	}
	if persistent && n.cfg.Dialer == nil {
		return nil, ErrNoDialer
	}
	if !n.enter() { // tracked: Close's sweep comes after it, or it fails
		return nil, ErrClosed
	}
	defer n.work.done()
	now := n.clock.Now()
	var p *Peer
	var l *link
	for {
		var created, ok bool
		if p, created, ok = n.table.loadOrCreate(key, addr); !ok {
			return nil, ErrClosed // Close has begun: no new record
		}
		if !created && addr.IsValid() {
			n.table.SetAddr(p, addr)
		}
		l = n.table.linkOf(p)
		if created {
			l.lastConnected.Store(int64(now)) // retention counts from the record's birth
		}
		// The forget check decides under l.mu: marking the record under
		// it too means the record is either forgotten before (and we
		// retry on the key's new one) or kept because it is persistent.
		l.mu.Lock()
		forgotten := p.Forgotten()
		if !forgotten && persistent {
			p.setFlag(flagPersistent)
		}
		l.mu.Unlock()
		if !forgotten {
			break
		}
	}
	if persistent {
		if p.liveRef() == nil {
			if err := n.startDial(p); err != nil && err != ErrDialInProgress {
				return p, err
			}
		}
		return p, nil
	}
	p.clearFlag(flagPersistent)
	if p.liveRef() == nil {
		n.armTimers(p, l, now) // the forget check, unless a session raced in
	}
	return p, nil
}

// randFloat returns a uniform float64 in [0, 1) from the configured source.
func (n *Node) randFloat() float64 {
	if n.cfg.Rand == nil {
		return rand.Float64()
	}
	n.rngMu.Lock()
	defer n.rngMu.Unlock()
	return n.cfg.Rand.Float64()
}
