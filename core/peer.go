package core

import (
	"net/netip"
	"sync/atomic"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
	"github.com/petrel-transport/petrel/ring"
)

// Peer flag bits (Peer.flags).
const (
	flagPersistent uint32 = 1 << iota // supervised: reconnected, never forgotten
	flagDialing                       // an outgoing dial is in flight (at most one)
	flagClosed                        // the owning Node closed
	flagForgotten                     // removed from its Table; the record is dead
)

// Peer is the single entry the node keeps for one remote peer: identity,
// address, ring location, lifecycle state, last-seen time, current session
// and, once it has ever connected, its connection record (counters, retained
// estimates, supervision state).
//
// The record persists across sessions; sessions come and go through the
// Table's registry operations. A *Peer stays valid after it is forgotten
// (flag set, no longer in the Table), so holders never dereference freed
// state.
//
// Layout is 96 bytes, one size class, because a node may know a million
// peers; state only a connected or supervised peer needs lives in link,
// allocated on first use.
//
// Guard map: key is immutable after creation. Every other field is atomic
// and read without a lock. Writers: addr is stored only inside the Table's
// compute for p's key, and cleared (if still equal) inside the compute of a
// peer that claims the same address (see table.go); session only by the
// registry operations (registry.go); state by publishState; flags by CAS.
type Peer struct {
	key      PeerKey                    // immutable
	addr     addrCell                   // seqlock; written under the Table's per-key compute
	loc      atomic.Uint64              // ring.Location
	lastSeen atomic.Int64               // monotime.Time of the last packet (Touch)
	session  atomic.Pointer[sessionRef] // current session or nil
	flags    atomic.Uint32              // flag* bits
	state    atomic.Uint32              // last published State
	link     atomic.Pointer[link]       // nil until the peer first connects or is supervised
}

// newPeer returns a record for key at the (normalised) address addr.
func newPeer(key PeerKey, addr netip.AddrPort) *Peer {
	p := &Peer{key: key}
	if addr.IsValid() {
		p.addr.store(addr)
	}
	return p
}

// Key returns the peer's identity. It never changes.
func (p *Peer) Key() PeerKey { return p.key }

// Addr returns the peer's current address (normalised: IPv4 unmapped, no
// zone), or the zero AddrPort if it has none. Lock-free, allocation-free.
func (p *Peer) Addr() netip.AddrPort { return p.addr.load() }

// Location returns the peer's ring location. Lock-free.
func (p *Peer) Location() ring.Location { return ring.Location(p.loc.Load()) }

// SetLocation stores the peer's ring location (one atomic store).
func (p *Peer) SetLocation(l ring.Location) { p.loc.Store(uint64(l)) }

// LastSeen returns the time of the last Touch (zero if never touched).
func (p *Peer) LastSeen() monotime.Time { return monotime.Time(p.lastSeen.Load()) }

// touchGranularity is how far LastSeen may lag the latest Touch: Touch
// skips the store when last-seen is already less than this much older than
// now. It is the timer wheel's default resolution, the finest step at which
// keepalive and reaping act on last-seen anyway (their intervals are
// seconds).
const touchGranularity = wheel.DefaultTick

// Touch records that a packet from the peer arrived at now. No lock, no
// allocation: one atomic load, plus one atomic store only when last-seen is
// zero (never touched) or at least touchGranularity older than now.
//
// So after Touch(now), LastSeen() > now-touchGranularity unless a
// concurrent Touch from another receive loop stored a time that was itself
// current. A Touch with a time older than last-seen stores nothing, so
// receive loops delivering out of order do not move last-seen backwards
// (up to racing stores, each of which passed the check).
//
// Why not store every time: an atomic store is a full barrier (XCHG on
// amd64) that waits for the Peer's cache line and takes it exclusive, per
// datagram. The line also holds the session, state and link words that the
// send path and other receive loops read, so a store per packet from a busy
// peer bounces that line between cores. A busy peer is touched far more
// often than once per touchGranularity, and then Touch is a plain load.
func (p *Peer) Touch(now monotime.Time) {
	if old := p.lastSeen.Load(); old == 0 || int64(now)-old >= int64(touchGranularity) {
		p.lastSeen.Store(int64(now))
	}
}

// Session returns the installed session, or nil. The result may be dead
// (IsAlive false) until the registry removes or replaces it.
func (p *Peer) Session() Session {
	if r := p.session.Load(); r != nil {
		return r.s
	}
	return nil
}

// State returns the peer's last published lifecycle state. It equals the
// state derived from the session slot and flags once every actor that
// changed the peer has published (see publishState).
func (p *Peer) State() State { return State(p.state.Load()) }

// Persistent reports whether the peer is supervised: reconnected after every
// disconnect and never forgotten.
func (p *Peer) Persistent() bool { return p.flags.Load()&flagPersistent != 0 }

// Forgotten reports whether the record was removed from its Table.
func (p *Peer) Forgotten() bool { return p.flags.Load()&flagForgotten != 0 }

// Counters returns a snapshot of the peer's counters (zero if it never
// connected).
func (p *Peer) Counters() PeerCounters {
	if l := p.link.Load(); l != nil {
		return l.counters.snapshot()
	}
	return PeerCounters{}
}

// CountIn adds one received packet of n bytes to the peer's counters. Hot
// path: no lock, no allocation. A no-op for a peer that never connected.
func (p *Peer) CountIn(n int) {
	if l := p.link.Load(); l != nil {
		l.counters.packetsIn.Add(1)
		l.counters.bytesIn.Add(uint64(n))
	}
}

// CountOut adds one sent packet of n bytes to the peer's counters, like
// CountIn.
func (p *Peer) CountOut(n int) {
	if l := p.link.Load(); l != nil {
		l.counters.packetsOut.Add(1)
		l.counters.bytesOut.Add(uint64(n))
	}
}

// Retained returns the estimates kept from the last session and the time it
// ended (zero values if none are kept). The Node clears them when a new
// session starts outside the retention window.
func (p *Peer) Retained() (Estimates, monotime.Time) {
	if l := p.link.Load(); l != nil {
		return l.estimates(), monotime.Time(l.lastConnected.Load())
	}
	return Estimates{}, 0
}

// setFlag sets bit and reports whether it was clear before.
func (p *Peer) setFlag(bit uint32) bool {
	for {
		f := p.flags.Load()
		if f&bit != 0 {
			return false
		}
		if p.flags.CompareAndSwap(f, f|bit) {
			return true
		}
	}
}

// clearFlag clears bit and reports whether it was set before.
func (p *Peer) clearFlag(bit uint32) bool {
	for {
		f := p.flags.Load()
		if f&bit == 0 {
			return false
		}
		if p.flags.CompareAndSwap(f, f&^bit) {
			return true
		}
	}
}

// liveRef returns the installed session ref if it is alive, else nil.
func (p *Peer) liveRef() *sessionRef {
	if r := p.session.Load(); r != nil && r.s.IsAlive() {
		return r
	}
	return nil
}

// derivedState computes the state from the session slot and flags.
func (p *Peer) derivedState() State {
	f := p.flags.Load()
	switch {
	case f&flagClosed != 0:
		return Closed
	case p.liveRef() != nil:
		return Connected
	case f&flagDialing != 0:
		return Connecting
	default:
		return Disconnected
	}
}

// publishState moves the published state to the derived one with a CAS and
// returns the transition it made (changed false if none). Every actor that
// changes the session slot or a flag calls it afterwards, so the published
// state converges on the derived one, and the transitions reported form a
// chain: each one's from is the previous one's to.
func (p *Peer) publishState() (from, to State, changed bool) {
	for {
		cur := p.state.Load()
		want := p.derivedState()
		if State(cur) == want {
			return want, want, false
		}
		if State(cur) == Closed {
			return Closed, Closed, false // terminal
		}
		if p.state.CompareAndSwap(cur, uint32(want)) {
			return State(cur), want, true
		}
	}
}
