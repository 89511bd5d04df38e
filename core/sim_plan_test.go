package core_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/petrel-transport/petrel/internal/netem"
)

// The simulation's plan: everything a run does, drawn from one seed before
// it starts. The nodes, the network's impairment, the workload (streams,
// some aborted, and message runs between random pairs) and the faults
// (partitions that heal, bursty links, crashes and restarts with the same
// keys, address changes) are events at virtual times, so a seed that fails
// replays its faults and its workload. Goroutine interleavings inside the
// bubble are the Go scheduler's: a seed repeats its schedule exactly, not
// every packet's timing.

// simNodes is the number of nodes of every run.
const simNodes = 16

// Event kinds.
const (
	evStream    = "stream"    // a: writer, b: reader
	evMessages  = "messages"  // a: sender, b: receiver
	evPartition = "partition" // a and b cannot reach each other for dur
	evImpair    = "impair"    // the link a -> b is bursty (Gilbert-Elliott) for dur
	evCrash     = "crash"     // node a goes down (Close, or abruptly) for dur, then restarts
	evRebind    = "rebind"    // node a's public address changes (a NAT rebinding)
)

// simEvent is one entry of the plan.
type simEvent struct {
	at   time.Duration // virtual time since the run began
	kind string
	a, b int
	id   uint64 // a workload event's id: names its stream or its messages

	size    int // stream: bytes after the header
	abortAt int // stream: Abort once this many bytes are written; -1: never
	chunk   int // stream: bytes per Write

	count, maxSize int // messages

	dur    time.Duration // partition, impair, crash (time down)
	abrupt bool          // crash: vanish without a word (isolated, then closed)
	imp    netem.Config  // impair
}

// simPlan is one run.
type simPlan struct {
	seed   uint64
	def    netem.Config  // every link's impairment, outside impair events
	tick   time.Duration // the nodes' timer wheel resolution (Config.Tick)
	chaos  time.Duration
	events []simEvent // by at
	// probes are message runs sent once the faults healed and the network
	// settled: each must arrive whole (the nodes recover from every fault).
	probes []simEvent
}

// newSimPlan draws the plan of seed.
func newSimPlan(seed uint64) simPlan {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	delay := time.Duration(2+r.IntN(14)) * time.Millisecond
	p := simPlan{
		seed: seed,
		def: netem.Config{
			Loss:           float64(r.IntN(21)) / 1000 * float64(1+3*r.IntN(2)), // 0-2%, or 0-6%
			Delay:          delay,
			Jitter:         time.Duration(r.Int64N(int64(delay / 2))),
			JitterReorders: true,
			Reorder:        float64(r.IntN(21)) / 1000,
			Duplicate:      float64(r.IntN(11)) / 1000,
			Corrupt:        float64(r.IntN(11)) / 1000,
		},
		chaos: 30 * time.Second,
		// The wheel's resolution changes when timers fire relative to the
		// packets; the default 1 ms costs the most wakeups of virtual time.
		tick: []time.Duration{time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond}[r.IntN(4)],
	}
	var id uint64
	span := func(tail time.Duration) time.Duration { return time.Duration(r.Int64N(int64(p.chaos - tail))) }
	pair := func() (int, int) {
		a := r.IntN(simNodes)
		b := (a + 1 + r.IntN(simNodes-1)) % simNodes
		return a, b
	}

	// Workload: 96 operations over the chaos window.
	for range 96 {
		id++
		a, b := pair()
		e := simEvent{at: span(2 * time.Second), a: a, b: b, id: id, abortAt: -1}
		if r.IntN(5) < 3 {
			e.kind = evStream
			// Sizes spread over 1 KiB..1 MiB, most small.
			e.size = 1024 + int(r.ExpFloat64()*64*1024)
			e.size = min(e.size, 1<<20)
			e.chunk = 512 + r.IntN(16*1024)
			if r.IntN(5) == 0 {
				e.abortAt = r.IntN(e.size)
			}
		} else {
			e.kind = evMessages
			e.count = 5 + r.IntN(40)
			e.maxSize = 16 + r.IntN(3000)
			if r.IntN(4) == 0 {
				// Both ends dial each other at once: the double-connection
				// rule must leave them one connection.
				id++
				m := e
				m.id, m.a, m.b = id, e.b, e.a
				p.events = append(p.events, m)
			}
		}
		p.events = append(p.events, e)
	}
	for range 16 {
		id++
		a, b := pair()
		p.probes = append(p.probes, simEvent{kind: evMessages, a: a, b: b, id: id, abortAt: -1, count: 3, maxSize: 2000})
	}

	// Faults. busy keeps a node's crashes and rebindings apart, so a
	// fault never finds its node in the middle of another.
	busy := make([][][2]time.Duration, simNodes)
	free := func(n int, from, to time.Duration) bool {
		for _, b := range busy[n] {
			if from < b[1]+time.Second && to+time.Second > b[0] {
				return false
			}
		}
		busy[n] = append(busy[n], [2]time.Duration{from, to})
		return true
	}
	for range 8 {
		a, b := pair()
		p.events = append(p.events, simEvent{kind: evPartition, at: span(3 * time.Second), a: a, b: b,
			dur: time.Duration(500+r.IntN(7500)) * time.Millisecond})
	}
	for range 8 {
		a, b := pair()
		p.events = append(p.events, simEvent{kind: evImpair, at: span(3 * time.Second), a: a, b: b,
			dur: time.Duration(1000+r.IntN(5000)) * time.Millisecond,
			imp: netem.Config{
				Burst:     netem.GilbertElliott{P: 0.01 + r.Float64()*0.05, R: 0.2 + r.Float64()*0.5},
				Delay:     p.def.Delay,
				Duplicate: float64(r.IntN(31)) / 1000,
				Corrupt:   float64(r.IntN(31)) / 1000,
			}})
	}
	for range 5 {
		a := r.IntN(simNodes)
		e := simEvent{kind: evCrash, at: span(6 * time.Second), a: a, abrupt: r.IntN(2) == 0,
			dur: time.Duration(100+r.IntN(4900)) * time.Millisecond}
		if free(a, e.at, e.at+e.dur+time.Second) {
			p.events = append(p.events, e)
		}
	}
	for range 6 {
		a := r.IntN(simNodes)
		e := simEvent{kind: evRebind, at: span(time.Second), a: a}
		if free(a, e.at, e.at) {
			p.events = append(p.events, e)
		}
	}
	slices.SortStableFunc(p.events, func(x, y simEvent) int { return int(x.at - y.at) })
	return p
}

// count returns the number of events of kind.
func (p *simPlan) count(kind string) int {
	n := 0
	for _, e := range p.events {
		if e.kind == kind {
			n++
		}
	}
	return n
}

// String is the schedule, one event a line, for a failing seed's log.
func (p *simPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d nodes, tick %v, chaos %v, every link %+v\n", p.seed, simNodes, p.tick, p.chaos, p.def)
	fmt.Fprintf(&b, "summary: %d streams, %d message runs, %d partitions, %d bursty links, %d crashes, %d rebinds, %d probes\n",
		p.count(evStream), p.count(evMessages), p.count(evPartition), p.count(evImpair), p.count(evCrash), p.count(evRebind), len(p.probes))
	for _, e := range p.events {
		fmt.Fprintf(&b, "  %9v %-9s ", e.at, e.kind)
		switch e.kind {
		case evStream:
			fmt.Fprintf(&b, "#%d %d -> %d, %d bytes in writes of %d", e.id, e.a, e.b, e.size, e.chunk)
			if e.abortAt >= 0 {
				fmt.Fprintf(&b, ", Abort after %d", e.abortAt)
			}
		case evMessages:
			fmt.Fprintf(&b, "#%d %d -> %d, %d messages of up to %d bytes", e.id, e.a, e.b, e.count, e.maxSize)
		case evPartition:
			fmt.Fprintf(&b, "%d <-> %d for %v", e.a, e.b, e.dur)
		case evImpair:
			fmt.Fprintf(&b, "%d -> %d for %v: burst p=%.3f r=%.3f dup=%.3f corrupt=%.3f", e.a, e.b, e.dur, e.imp.Burst.P, e.imp.Burst.R, e.imp.Duplicate, e.imp.Corrupt)
		case evCrash:
			how := "Close"
			if e.abrupt {
				how = "abrupt"
			}
			fmt.Fprintf(&b, "node %d (%s), down %v, restart with the same key", e.a, how, e.dur)
		case evRebind:
			fmt.Fprintf(&b, "node %d moves to a new address", e.a)
		}
		b.WriteByte('\n')
	}
	for _, e := range p.probes {
		fmt.Fprintf(&b, "  then     probe     #%d %d -> %d, %d messages\n", e.id, e.a, e.b, e.count)
	}
	return b.String()
}
