package main

import "time"

// Step is one part of the report: a go test run (Package, Run, Args) or a
// make target (Make), in Dir, relative to the repository root.
type Step struct {
	Title string
	// Dir is the module directory the command runs in ("." is the root
	// module, "cmd", "bench").
	Dir string
	// Package, Run and Args make `go test -count=1 -v -run Run -timeout
	// Timeout Package -args Args...`.
	Package string
	Run     string
	Args    []string
	// Make, if set, runs `make Make` in Dir instead of go test.
	Make string
	// Env is added to the environment ("KEY=value").
	Env     []string
	Timeout time.Duration
	// Sections are the RELIABILITY sections the step must print; a step
	// that exits 0 without one of them fails.
	Sections []string
	// About says what the step proves and how to rerun it (one paragraph,
	// Markdown).
	About string
}

// steps is the fixed list the report runs, in order. The whole list must
// finish within 10 minutes on 2 cores.
//
// Steps still to add, each by the helper that owns its tests (the section
// names are theirs to confirm):
//   - storm: hostile input at a live node over loopback (core hostile
//     tests, cmd/petrel storm): bad datagrams sent by kind and counted by
//     reason, transfer intact, CPU and memory under the storm.
//   - spoof: 100,000 spoofed handshake initiations on simnet: memory bound,
//     handshake state within the budget, amplification at most 3x.
//   - fuzz: every fuzzer for a bounded time (make fuzz), executions and
//     new corpus entries per fuzzer.
//   - netns: petrel serve/send across network namespaces joined by veth
//     pairs (root only), with a rebinding and a restart.
//   - shutdown: Close with streams in flight aborts them on both sides;
//     nothing reported delivered that was not.
var steps = []Step{
	{
		Title:    "Deterministic simulation",
		Dir:      ".",
		Package:  "./core",
		Run:      "^TestSim$",
		Args:     []string{"-sim.seeds=20"},
		Timeout:  5 * time.Minute,
		Sections: []string{"sim"},
		About: "16 nodes in one process over core/simnet, in a testing/synctest bubble (virtual time), each seed's plan " +
			"drawn from one PCG seed: random loss, bursty (Gilbert-Elliott) links, reordering, duplication and corruption, " +
			"partitions that heal, crashes (Close, or abrupt: the node's address is isolated before it closes) and restarts " +
			"with the same identity key, address changes (NAT rebinding), while streams (some aborted with Stream.Abort) " +
			"and numbered messages flow between random pairs. Checked throughout and at the end: every byte read is the byte " +
			"written, once, in order, and io.EOF only after the last; every message once and in order; no FlightSize " +
			"underflow, and FlightSize and the tracker at 0 on every live connection at quiescence; the transient count " +
			"within its budget; one connection per peer pair, the same on both sides; no timer on a node's wheel after " +
			"Close and no goroutine after the run (goleak). `violations` counts broken invariants: 0 expected. " +
			"Rerun one seed with its fault schedule: `make sim SEED=n`; many: `make soak DURATION=10m`.",
	},
}
