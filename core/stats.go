package core

// Stats is a point-in-time summary of a Table (or a Node's table). Computing
// it visits every record: it is for monitoring, not for the hot path.
type Stats struct {
	Peers      int            // records in the table
	ByState    [numStates]int // records per published State, indexed by State
	Sessions   int            // live sessions installed
	Persistent int            // records marked persistent
	Counters   PeerCounters   // sum of every record's counters
	// Transport counts the node's traffic and drops (zero for a Node made
	// with New, which has no transport).
	Transport TransportStats
	// Ring is the state of the transient and established sets.
	Ring RingStats
}

// Stats summarises the table. Concurrent changes may or may not be counted.
func (t *Table) Stats() Stats {
	var st Stats
	t.Range(func(p *Peer) bool {
		st.Peers++
		if s := p.State(); s < numStates {
			st.ByState[s]++
		}
		if p.liveRef() != nil {
			st.Sessions++
		}
		if p.Persistent() {
			st.Persistent++
		}
		st.Counters.add(p.Counters())
		return true
	})
	return st
}
