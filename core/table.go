package core

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
)

// Table is the node's one map of peers: PeerKey -> *Peer, plus an index from
// address to *Peer for the receive path, which knows only the datagram's
// source address. Both are an index (index.go): keys inline in the slots, so
// a lookup is one cache miss.
//
// Lookups (Load, LoadByAddr) and Peer.Touch take no lock, write no shared
// memory and allocate nothing.
//
// # Keeping the address index consistent
//
// Every change to the index that concerns peer p happens inside
// peers.Compute(p.key) (creation, SetAddr, Forget), which holds the shard
// lock of p's key: index updates for one peer are therefore serialised and
// ordered with that peer's insertion and removal. The lock order is
//
//	link.mu -> peers shard lock -> byAddr shard lock
//
// and nothing takes them in another order. An address change of p from a to
// b runs, under that lock:
//
//  1. p.addr = b (readers of p.Addr() see a or b, never a torn mix);
//  2. publish byAddr[b] = p (claimLocked) before retiring the old entry, so
//     there is no instant at which p is unreachable by address (in between,
//     both a and b lead to p);
//  3. compare-and-delete byAddr[a] only if it still points at p: if another
//     peer q has claimed a meanwhile, q's entry is left alone.
//
// An address belongs to the peer that claimed it last (a NAT rebinding hands
// an address to whoever authenticates from it): when publishing byAddr[b]
// displaces another peer q, q's address is cleared if it is still b
// (addrCell.clearIf, atomic against q's own writer), inside byAddr[b]'s
// compute so that it is ordered with every other claim of b. Forget retires p's entry
// with the same compare-and-delete.
//
// Invariant (at quiescence): byAddr[a] == p iff p is in the Table and
// p.Addr() == a; a peer with a valid address is in byAddr under it.
//
// Concurrency: all methods are safe for concurrent use. Guard map: local is
// immutable; peers and byAddr are concurrent maps; a Peer's fields follow the
// Peer's own guard map.
type Table struct {
	local  PeerKey // immutable: this node's identity (the double-connection rule)
	peers  *index  // the entries, by wordsOf(key)
	byAddr *index  // address index (see above), by keyOf(addr)

	// initLink, if set, prepares a Peer's link before it is published
	// (the Node binds the per-peer wheel timers there). Immutable after the
	// owner's constructor.
	initLink func(*Peer, *link)
	// closed is set first thing by the owning Node's Close and is the
	// Node's one "Close has begun" flag (enter, arm); swapPeer refuses to
	// install once it is set.
	closed atomic.Bool
}

// linkOf returns p's connection record, allocating (and initialising) it
// once.
func (t *Table) linkOf(p *Peer) *link {
	if l := p.link.Load(); l != nil {
		return l
	}
	l := &link{}
	if t.initLink != nil {
		t.initLink(p, l)
	}
	if p.link.CompareAndSwap(nil, l) {
		return l
	}
	return p.link.Load()
}

// NewTable returns an empty Table for the node whose identity is local.
// sizeHint presizes both indexes for that many peers (0: grow on demand).
func NewTable(local PeerKey, sizeHint int) *Table {
	return &Table{
		local:  local,
		peers:  newIndex(sizeHint),
		byAddr: newIndex(sizeHint),
	}
}

// wordsOf is a PeerKey as the peers index stores it.
func wordsOf(k *PeerKey) ikey {
	return ikey{
		binary.LittleEndian.Uint64(k[0:]), binary.LittleEndian.Uint64(k[8:]),
		binary.LittleEndian.Uint64(k[16:]), binary.LittleEndian.Uint64(k[24:]),
	}
}

// Local returns the identity of the node that owns the table.
func (t *Table) Local() PeerKey { return t.local }

// Len returns the number of peer records.
func (t *Table) Len() int { return t.peers.Size() }

// Load returns the record of key. No lock, no allocation.
func (t *Table) Load(key PeerKey) (*Peer, bool) { return t.peers.Load(wordsOf(&key)) }

// LoadByAddr returns the peer whose current address is addr. No lock, no
// allocation. addr is matched normalised (IPv4-mapped unmapped, zone
// ignored): keyOf already maps addr and normAddr(addr) to the same key (As16
// maps IPv4 to ::ffff:a.b.c.d and drops the zone), so the receive path
// skips normAddr's Unmap and WithZone.
func (t *Table) LoadByAddr(addr netip.AddrPort) (*Peer, bool) {
	return t.byAddr.Load(keyOf(addr))
}

// LoadOrCreate returns the record of key, creating it at addr if it does not
// exist (created reports which). An existing record's address is not
// changed; use SetAddr. addr may be the zero AddrPort (address unknown).
//
// On the table of a Node that has begun closing it creates nothing: for a
// key with no record it returns a detached record that is not in the table,
// already Closed (created false), on which Swap installs nothing.
func (t *Table) LoadOrCreate(key PeerKey, addr netip.AddrPort) (p *Peer, created bool) {
	p, created, ok := t.loadOrCreate(key, addr)
	if !ok {
		p = newPeer(key, normAddr(addr))
		p.setFlag(flagClosed)
		p.state.Store(uint32(Closed))
	}
	return p, created
}

// loadOrCreate is LoadOrCreate that reports ok false, and creates nothing,
// for an absent key once the owning Node has begun closing. closed is read
// inside the key's compute, under its shard lock: a compute that saw closed
// still false has stored its record by the time settle (after closed is set)
// has passed that shard's lock, so Close's sweep, a Range after settle,
// visits it.
func (t *Table) loadOrCreate(key PeerKey, addr netip.AddrPort) (p *Peer, created, ok bool) {
	w := wordsOf(&key)
	if p, ok := t.peers.Load(w); ok {
		return p, false, true
	}
	addr = normAddr(addr)
	t.peers.Compute(w, func(cur *Peer, loaded bool) (*Peer, bool) {
		if loaded {
			p = cur
			return cur, false
		}
		if t.closed.Load() {
			return nil, true // absent and closing: store nothing
		}
		p, created = newPeer(key, addr), true
		if addr.IsValid() {
			t.claimLocked(p, addr)
		}
		return p, false
	})
	return p, created, p != nil
}

// SetAddr moves p to addr (see the type comment for how the index stays
// consistent). It reports false if p is no longer in the table.
func (t *Table) SetAddr(p *Peer, addr netip.AddrPort) bool {
	addr = normAddr(addr)
	ok := false
	t.peers.Compute(wordsOf(&p.key), func(cur *Peer, loaded bool) (*Peer, bool) {
		if !loaded {
			return nil, true // absent: nothing to store
		}
		if cur != p {
			return cur, false
		}
		ok = true
		old := p.addr.load()
		if old == addr {
			return cur, false
		}
		p.addr.store(addr)
		if addr.IsValid() {
			t.claimLocked(p, addr)
		}
		if old.IsValid() {
			t.retireLocked(p, old)
		}
		return cur, false
	})
	return ok
}

// Forget removes record p from the table (if it is still the record of its
// key), retires its address entry and marks it forgotten. It does not touch
// p's session: the caller ends it. It reports whether it removed p.
//
// Forget takes p's registry lock, so it is serialised with Swap: once it has
// removed p no Swap installs a session into p (Swap moves on to the key's
// new record), and p.Session() read after Forget returns is the last session
// p will ever hold.
func (t *Table) Forget(p *Peer) bool {
	l := t.linkOf(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	return t.forgetIf(p, nil)
}

// forgetIf is Forget with a condition evaluated under the key's lock. The
// caller holds p's link.mu.
func (t *Table) forgetIf(p *Peer, cond func(*Peer) bool) bool {
	removed := false
	t.peers.Compute(wordsOf(&p.key), func(cur *Peer, loaded bool) (*Peer, bool) {
		if !loaded {
			return nil, true
		}
		if cur != p || (cond != nil && !cond(p)) {
			return cur, false
		}
		if a := p.addr.load(); a.IsValid() {
			t.retireLocked(p, a)
		}
		p.setFlag(flagForgotten)
		removed = true
		return nil, true
	})
	return removed
}

// claimLocked publishes byAddr[a] = p and clears the address of the peer it
// displaces, if any. Called inside peers.Compute(p.key).
//
// The displaced peer's address is cleared inside the index entry's own
// compute, not after it: the entry's lock is what orders claims of a, so the
// clear cannot land after the displaced peer has moved away and re-claimed a
// (which would leave byAddr[a] pointing at a peer whose address was wiped).
// The clear only spins on the displaced peer's addrCell writer, which never
// waits for an index lock, so this nests no lock the wrong way.
func (t *Table) claimLocked(p *Peer, a netip.AddrPort) {
	t.byAddr.Compute(keyOf(a), func(prev *Peer, loaded bool) (*Peer, bool) {
		if loaded && prev != p {
			prev.addr.clearIf(a)
		}
		return p, false
	})
}

// retireLocked deletes byAddr[a] if it still points at p. Called inside
// peers.Compute(p.key).
func (t *Table) retireLocked(p *Peer, a netip.AddrPort) {
	k := keyOf(a)
	if cur, ok := t.byAddr.Load(k); !ok || cur != p {
		return
	}
	t.byAddr.Compute(k, func(cur *Peer, loaded bool) (*Peer, bool) {
		if !loaded || cur == p {
			return nil, true
		}
		return cur, false
	})
}

// settle returns once every record creation that could still have seen
// closed false has stored its record (Close calls it after setting closed,
// before its sweep).
func (t *Table) settle() { t.peers.Barrier() }

// Range calls f for every record until f returns false. f runs with no lock
// held, so it may send, block or call back into the table. A record in the
// table for the whole Range is visited exactly once (Close's sweep relies on
// it); records added or removed during Range may or may not be visited.
func (t *Table) Range(f func(p *Peer) bool) {
	t.peers.Range(f)
}

// RangeLive calls f for every peer with a live session, with that session,
// until f returns false. Like Range, no lock is held across f: a broadcast
// sends from f.
func (t *Table) RangeLive(f func(p *Peer, s Session) bool) {
	t.peers.Range(func(p *Peer) bool {
		if r := p.liveRef(); r != nil {
			return f(p, r.s)
		}
		return true
	})
}
