package core_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// monitor checks the invariants that must hold at every instant, every
// 250 ms of virtual time, until stop.
func (w *simWorld) monitor(stop <-chan struct{}) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	reported := map[*core.Conn]bool{}
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for i, ns := range w.nodes {
			n := ns.current()
			if n == nil {
				continue
			}
			tr := n.Stats().Ring.Transient
			if tr.Count > tr.Budget || tr.Peak > tr.Budget {
				w.violate("node %d: transient count %d (peak %d) over the budget %d", i, tr.Count, tr.Peak, tr.Budget)
			}
			for _, c := range core.Conns(n) {
				if u := core.SessionOf(c).FlightSize().Stats().Underflows; u > 0 && !reported[c] {
					reported[c] = true
					w.violate("node %d: connection to %d: FlightSize underflowed %d times", i, w.keys[c.RemoteKey()], u)
				}
			}
		}
	}
}

// checkQuiescent checks, once the workload ended and the network is
// quiet, the flight of every live connection and that each pair of nodes
// holds one connection.
func (w *simWorld) checkQuiescent() {
	// Nothing lost silently: on a connection still alive, a stream whose
	// writer finished was read whole or ended with an error at its reader
	// (the transport may abort it: a window-wait timeout during a
	// partition is reported to the reader, not to Close), and a message
	// run whose sender finished arrived whole.
	w.mu.Lock()
	var lost []string
	for id, c := range w.sentOn {
		e := w.byID[id]
		if !c.IsAlive() {
			continue
		}
		if e.kind == evStream && w.started[id] && !w.delivered[id] && w.readErr[id] == nil {
			lost = append(lost, fmt.Sprintf("stream #%d (%d -> %d): written whole on a connection still alive, its reader still waits", id, e.a, e.b))
		}
		if e.kind == evMessages && w.msgNext[id] != uint32(e.count) {
			lost = append(lost, fmt.Sprintf("messages #%d (%d -> %d): %d of %d arrived on a connection still alive", id, e.a, e.b, w.msgNext[id], e.count))
		}
	}
	w.mu.Unlock()
	slices.Sort(lost)
	for _, l := range lost {
		w.violate("%s", l)
	}

	live := make([]map[core.PeerKey][]*core.Conn, simNodes)
	for i, ns := range w.nodes {
		n := ns.current()
		live[i] = map[core.PeerKey][]*core.Conn{}
		for _, c := range core.Conns(n) {
			s := core.SessionOf(c)
			if u := s.FlightSize().Stats().Underflows; u > 0 {
				w.violate("node %d: connection to %d: FlightSize underflowed %d times", i, w.keys[c.RemoteKey()], u)
			}
			if !c.IsAlive() {
				continue
			}
			live[i][c.RemoteKey()] = append(live[i][c.RemoteKey()], c)
			// A keepalive PING may be in flight at any one instant; a leak
			// stays. Sample until the flight and the tracker are empty.
			var f, tb uint64
			for range 40 {
				f, tb = s.FlightSize().Load(), s.Tracker().Stats().InFlightBytes
				if f == 0 && tb == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if f != 0 || tb != 0 {
				w.violate("node %d: connection to %d: FlightSize %d, tracker %d bytes in flight at quiescence (stats %+v)",
					i, w.keys[c.RemoteKey()], f, tb, c.Stats())
			}
		}
		for key, cs := range live[i] {
			j := w.keys[key]
			if len(cs) > 1 {
				w.violate("node %d holds %d live connections to node %d", i, len(cs), j)
			}
			p, ok := n.Table().Load(key)
			if !ok || p.Session() != core.Session(cs[0]) {
				w.violate("node %d: its live connection to node %d is not the one its table holds", i, j)
			}
		}
	}
	for i := range simNodes {
		for j := i + 1; j < simNodes; j++ {
			ci, cj := live[i][w.nodes[j].key], live[j][w.nodes[i].key]
			if len(ci) == 0 || len(cj) == 0 {
				continue
			}
			si, sj := core.SessionOf(ci[0]), core.SessionOf(cj[0])
			if si.LocalCID() != sj.RemoteCID() || sj.LocalCID() != si.RemoteCID() {
				w.violate("nodes %d and %d hold two different live connections to each other", i, j)
			}
		}
	}
}
