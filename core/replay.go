package core

import "github.com/petrel-transport/petrel/core/secure"

// peerStamps is the responder's secure.ReplayGuard: the newest initiation
// timestamp accepted from a peer lives in the peer's record (its link) for
// as long as the table keeps the record, and in a bounded LRU table
// (secure.TimestampTable) for keys without a record. The LRU alone is not
// enough: an attacker who authenticates more throwaway keys than it holds
// evicts a real peer's entry, and a captured initiation of that peer then
// passes the replay check once; the responder answers it, and the new
// connection replaces the peer's live one (replaceLingering), ending it.
// With the record's timestamp, a replay is refused while the peer is known,
// whatever the LRU has forgotten. Safe for concurrent use; atomic per key
// (compare-and-swap on the record's timestamp).
//
// Guard map: e is immutable (its table is read once the driver delivers,
// after ListenDriver set e.n); lru holds its own lock.
type peerStamps struct {
	e   *engine
	lru *secure.TimestampTable
}

var _ secure.ReplayGuard = (*peerStamps)(nil)

// replayTableLimit is the capacity of peerStamps' LRU (0:
// secure.DefaultTimestampLimit). Tests lower it to make eviction cheap.
var replayTableLimit = 0

// Advance implements secure.ReplayGuard.
func (g *peerStamps) Advance(peer secure.PublicKey, ts secure.Timestamp) bool {
	p, ok := g.e.n.table.Load(PeerKey(peer))
	if !ok {
		return g.lru.Advance(peer, ts)
	}
	l := g.e.n.table.linkOf(p)
	for {
		old := l.stamp.Load()
		if old != nil && !ts.After(*old) {
			return false
		}
		// A record without a timestamp yet (added by the application, or
		// made before its first initiation): the LRU may still know the
		// key, and decides.
		if old == nil && !g.lru.Advance(peer, ts) {
			return false
		}
		if l.stamp.CompareAndSwap(old, &ts) {
			if old != nil {
				g.lru.Advance(peer, ts)
			}
			return true
		}
	}
}

// recordStamp stores ts in p's record if it is newer than the one there:
// an initiation's Advance runs before its peer's record exists, so the
// record created for it starts with its timestamp.
func (t *Table) recordStamp(p *Peer, ts secure.Timestamp) {
	l := t.linkOf(p)
	for {
		old := l.stamp.Load()
		if old != nil && !ts.After(*old) {
			return
		}
		if l.stamp.CompareAndSwap(old, &ts) {
			return
		}
	}
}
