package core

import (
	"context"
	"errors"
	"net/netip"
)

// The registry operations keep invariant 5 of DESIGN.md: at any time at most
// one live session per peer, and both ends of a double connection keep the
// same one.
//
// # The double-connection rule
//
// When a new connection to peer R arrives (incoming) or completes (outgoing)
// while a live one exists, the winner is:
//
//   - if the two connections were initiated by different nodes (one incoming,
//     one outgoing), the one initiated by the node with the lower PeerKey
//     (PeerKey.Compare) wins;
//   - if both were initiated by the same node, the newer one wins: an
//     initiator only redials when it has given up on its previous connection.
//
// Both ends agree because the rule reads only facts both ends share: the two
// identities (the same pair at both ends) and which of them initiated each
// connection (my outgoing connection is your incoming one). Arrival order,
// which differs between the ends, never enters the first case. The second
// case does use order (newest), which both ends share as long as one
// initiator's handshakes complete in the order it started them; if they
// cross, the loser's close reaches the other end and the pair converges.
//
// # Atomicity
//
// The session slot (Peer.session) is one atomic pointer to an immutable
// sessionRef. Swap decides, builds and installs under the peer's link.mu, so
// Swaps of one peer are serialised and build runs only for a winner;
// readers never take that lock. RemoveIfMatches is a lock-free CAS that
// empties the slot only if it still holds the caller's session. The
// successful CAS is each operation's linearization point, so each session
// leaves the slot exactly once: either through the one RemoveIfMatches that
// returns true, or through the one Swap that reports it as Replaced. Whoever takes
// it out fires its disconnect callback and closes it, outside any lock.

// SwapResult is the outcome of Table.Swap.
type SwapResult struct {
	// Kept is true when the existing live session won the rule and stays
	// installed: build was not called, New is nil, and the caller discards
	// the connection it offered.
	Kept bool
	// Existing is the live session that won the rule and stays installed;
	// set only when Kept. The caller must not close it.
	Existing Session
	// Replaced is the session that occupied the slot before the call and
	// was displaced (it was dead or lost the rule); set only when Kept is
	// false, nil if the slot was empty. The caller now owns it: it closes it
	// and fires its disconnect callback, since no RemoveIfMatches will ever
	// return true for it.
	Replaced Session
	// New is the session build returned, now installed (nil if Kept).
	New Session
}

// newWins applies the double-connection rule between a live installed
// session and a new one to peer remote. incoming means "initiated by remote".
func (t *Table) newWins(remote PeerKey, curIncoming, newIncoming bool) bool {
	if curIncoming == newIncoming {
		return true // same initiator: the newer connection wins
	}
	lowerIsRemote := remote.Compare(t.local) < 0
	return newIncoming == lowerIsRemote // the lower key's connection wins
}

// Swap offers a new session to peer key (creating the record if needed):
// incoming says whether the peer initiated it. If the slot is empty or holds
// a dead session, or the rule (see above) prefers the new connection, build
// is called once and its session installed; otherwise build is not called
// and the existing session is kept. See SwapResult for what the caller must
// close.
//
// build runs while the peer's registry lock is held: it must be short, must
// not block, must not return nil and must not call Swap or Forget for the
// same key (Table's or Node's: both take that lock, which is not
// reentrant). Lookups, Touch and other keys are fine.
func (t *Table) Swap(key PeerKey, incoming bool, build func() Session) SwapResult {
	for {
		p, _ := t.LoadOrCreate(key, netip.AddrPort{})
		if res, _, _, err := t.swapPeer(p, incoming, build, nil); err != errForgotten {
			p.publishState() // a Node publishes (and reports) states itself
			return res       // a Table without a Node is never closed
		}
		// p was forgotten between the lookup and the lock: retry on the
		// key's current record.
	}
}

// errForgotten is swapPeer's answer for a record removed from the table.
var errForgotten = errors.New("core: peer record forgotten")

// swapPeer is Swap on a known record. It returns the refs it installed and
// displaced. It does nothing and returns errForgotten if p has been
// forgotten, ErrClosed if the owning Node has closed (checked under the
// peer's lock, which Close's sweep also takes: a session is either refused
// here or seen by the sweep). If parent is non-nil the new session gets a
// processing context derived from it.
func (t *Table) swapPeer(p *Peer, incoming bool, build func() Session, parent context.Context) (res SwapResult, nr, old *sessionRef, err error) {
	l := t.linkOf(p)
	l.mu.Lock()
	defer l.mu.Unlock() // build is caller code: unlock even if it panics
	if p.Forgotten() {
		return SwapResult{}, nil, nil, errForgotten
	}
	if t.closed.Load() || p.flags.Load()&flagClosed != 0 {
		return SwapResult{}, nil, nil, ErrClosed
	}
	for {
		cur := p.session.Load()
		if cur != nil && cur.s.IsAlive() && !t.newWins(p.key, cur.incoming, incoming) {
			return SwapResult{Kept: true, Existing: cur.s}, nil, nil, nil
		}
		if nr == nil {
			s := build()
			if s == nil {
				panic("core: Swap build returned a nil Session")
			}
			nr = &sessionRef{s: s, incoming: incoming}
			if parent != nil {
				nr.ctx, nr.cancel = context.WithCancel(parent)
			}
		}
		// Only RemoveIfMatches can change the slot while we hold l.mu, and
		// only to nil, against which nr wins too; so this loop runs at most
		// twice.
		if p.session.CompareAndSwap(cur, nr) {
			l.counters.connects.Add(1)
			res = SwapResult{New: nr.s}
			if cur != nil {
				res.Replaced = cur.s
				l.counters.disconnects.Add(1)
			}
			return res, nr, cur, nil
		}
	}
}

// RemoveIfMatches empties key's session slot only if it still holds s, and
// reports whether it did. Exactly one caller gets true for a given installed
// session (and none if a Swap replaced it first): that caller fires the
// disconnect callback and closes s. Lock-free. On a Node's table use
// Node.RemoveIfMatches, which does that itself.
func (t *Table) RemoveIfMatches(key PeerKey, s Session) bool {
	p, ok := t.Load(key)
	if !ok {
		return false
	}
	if t.removeRef(p, s) == nil {
		return false
	}
	p.publishState()
	return true
}

// removeExact empties p's slot if it holds exactly r, and reports whether it
// did (the Node's own removals compare refs, not sessions).
func (t *Table) removeExact(p *Peer, r *sessionRef) bool {
	if p.session.CompareAndSwap(r, nil) {
		if l := p.link.Load(); l != nil {
			l.counters.disconnects.Add(1)
		}
		return true
	}
	return false
}

// removeRef is RemoveIfMatches on a known record; it returns the removed ref.
func (t *Table) removeRef(p *Peer, s Session) *sessionRef {
	for {
		cur := p.session.Load()
		if cur == nil || cur.s != s {
			return nil
		}
		if t.removeExact(p, cur) {
			return cur
		}
	}
}

// Session returns key's installed session (possibly dead) or nil.
func (t *Table) Session(key PeerKey) Session {
	if p, ok := t.Load(key); ok {
		return p.Session()
	}
	return nil
}
