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
// finish within 10 minutes on 2 cores on an idle machine (the fuzz step is
// most of it).
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
	{
		Title:    "Hostile traffic at a live node",
		Dir:      "cmd",
		Package:  "./petrel",
		Run:      "^TestStormBinary$",
		Timeout:  4 * time.Minute,
		Sections: []string{"storm"},
		About: "A third process (`petrel storm`) sends every kind of bad datagram (random bytes, truncated and oversized " +
			"datagrams, valid-looking headers with unknown connection ids, replayed, reflected and bit-flipped copies of " +
			"real packets it captured from a session of its own, forged, replayed and fresh handshake initiations) from 64 " +
			"loopback addresses at a `petrel serve` (gnet driver) while it receives a 32 MiB `petrel send`. The file must " +
			"arrive intact, fresh dials must get through (by the retry cookie), every datagram sent must be matched by the " +
			"node's drop counters by reason (`sent.*` against `reason.*`; one datagram can count twice, a packet plus its " +
			"trailing junk), nothing may panic; the server's CPU time and peak RSS are reported. Rerun: `make storm` " +
			"(20 s, 64 MiB).",
	},
	{
		Title:    "100,000 spoofed handshake initiations",
		Dir:      ".",
		Package:  "./core",
		Run:      "^TestSpoofedInitiations(OverBudget)?$",
		Timeout:  3 * time.Minute,
		Sections: []string{"spoof", "spoof_budget"},
		About: "Initiations from 100,000 forged source addresses enter a node through its datagram handler (the seam " +
			"every driver uses), with a real peer dialling over simnet in the middle. Handshake state stays within the " +
			"budget throughout; once load passes the cookie threshold every forged initiation gets a cookie reply and " +
			"nothing else (no peer, no connection, no Noise work); heap growth per address is bounded; no unvalidated " +
			"address gets more than 3x the bytes it sent. With cookies off, the budget alone caps pending handshakes. " +
			"Rerun: `go test -run TestSpoofedInitiations -v ./core`.",
	},
	{
		Title:    "Per-peer limits",
		Dir:      ".",
		Package:  "./core/session",
		Run:      "^(TestPeerOverStreamLimit|TestPeerBeyondWindow|TestSlowReader)$",
		Timeout:  2 * time.Minute,
		Sections: []string{"slow_reader"},
		About: "A peer holding the keys that opens more streams than MaxIncomingStreams, or sends beyond a stream's or " +
			"the connection's window, is cut off and counted (`Drops.Protocol`); a slow reader holds the sender to its " +
			"send buffer and the receiver to its window. Rerun: `go test -run 'TestPeer|TestSlowReader' -v ./core/session`.",
	},
	{
		Title:    "Graceful shutdown with streams in flight",
		Dir:      ".",
		Package:  "./core",
		Run:      "^TestShutdownWithStreamsInFlight$",
		Timeout:  3 * time.Minute,
		Sections: []string{"shutdown"},
		About: "Over the simulated network in virtual time, each side's connection and each side's node is closed in " +
			"turn while ten streams are at five stages (read, unread, FIN in the air, half-written, stalled). Every " +
			"unfinished stream is aborted on both ends with a `*StreamAbortError`; no reader sees EOF before a finished " +
			"writer's last byte; no CloseWrite or Close returns nil for bytes that were not acknowledged " +
			"(`false_delivery` counts such claims: 0 expected). Rerun: `go test -run TestShutdownWithStreamsInFlight -v ./core`.",
	},
	{
		Title:    "Multi-host: network namespaces",
		Dir:      "cmd",
		Package:  "./petrel",
		Run:      "^TestNetns$",
		Timeout:  5 * time.Minute,
		Sections: []string{"netns"},
		About: "As root only (it skips otherwise, and then this section is missing). Three network namespaces (sender, " +
			"router, receiver) joined by veth pairs on two subnets, the router's link to the receiver limited by tc tbf to " +
			"50 Mbit/s; `petrel relay` in the router adds loss and delay (this kernel has no netem qdisc); `petrel serve` " +
			"and `petrel send` run as separate processes in the end namespaces. Files move intact (SHA-256 receipt) through " +
			"the bottleneck and through 1% loss each way; the sender's address changes mid-transfer, behind the NAT-like " +
			"relay and on the direct path, and the connection migrates; SIGTERM to the receiver mid-transfer makes the " +
			"sender fail and leaves nothing partial stored; a receiver restarted with the same key while a `send " +
			"--persistent` runs is redialled by the supervisor and the file is re-sent whole. `rtt_ms` is the relay's " +
			"configured round trip. Rerun: `make netns`.",
	},
	{
		Title:    "Fuzzers",
		Dir:      ".",
		Make:     "fuzz",
		Env:      []string{"FUZZTIME=5s"},
		Timeout:  12 * time.Minute,
		Sections: []string{"fuzz"},
		About: "Every decoder (packet header, frames, ACK ranges, transport parameters, packet numbers, handshake " +
			"messages, cookies, key files, public keys, timestamps, packet protection, receive control messages, GRO " +
			"split, the CLI's receipt and --key) and the handshake state machine (driven by scripts of deliveries, replays " +
			"from other addresses, corruptions, ticks, cookie rounds, confirmations and timeouts) are fuzzed from " +
			"committed seed corpora of real messages, 5 s each here; each checks a round trip or a reference parser, not " +
			"just the absence of panics. Rerun: `make fuzz FUZZTIME=15s`; a failing input is saved under testdata/fuzz " +
			"and replays with plain `go test`.",
	},
}
