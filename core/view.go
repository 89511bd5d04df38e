package core

import "net/netip"

// TableView is a Node's peer table, read-only: lookups, iteration and
// counts. The Table's mutators (Swap, RemoveIfMatches, Forget, SetAddr,
// LoadOrCreate) are not on it, because on a Node's table they would bypass
// the Node's connect and disconnect callbacks, processing contexts and
// timers; the Node offers each of them through its own methods (Dial,
// Accept, AcceptSession, Disconnect, Forget, AddPeer), which keep the
// invariants. A standalone Table (NewTable) keeps every method.
type TableView struct{ t *Table }

// Local is the node's own key.
func (v TableView) Local() PeerKey { return v.t.Local() }

// Len is the number of peer records.
func (v TableView) Len() int { return v.t.Len() }

// Load returns key's record.
func (v TableView) Load(key PeerKey) (*Peer, bool) { return v.t.Load(key) }

// LoadByAddr returns the record whose current address is addr.
func (v TableView) LoadByAddr(addr netip.AddrPort) (*Peer, bool) { return v.t.LoadByAddr(addr) }

// Session returns key's live session, or nil.
func (v TableView) Session(key PeerKey) Session { return v.t.Session(key) }

// Range calls f for every record until f returns false (see Table.Range).
func (v TableView) Range(f func(p *Peer) bool) { v.t.Range(f) }

// RangeLive calls f for every peer with a live session (see
// Table.RangeLive).
func (v TableView) RangeLive(f func(p *Peer, s Session) bool) { v.t.RangeLive(f) }

// Stats counts the records by state.
func (v TableView) Stats() Stats { return v.t.Stats() }
