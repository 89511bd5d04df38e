package main

import "strings"

// plan is how a package's benchmarks run: rounds for make bench, and the
// -benchtime of a round there and in make bench-quick (one round).
type plan struct {
	Rounds    int
	Benchtime string
	Quick     string
}

// plans is the budget of make bench (30 minutes on the 2-vCPU VM), by
// package, the first matching prefix of the import path relative to the
// repository's module path winning. The component microbenchmarks are
// cheap and the noisiest (the same table lookup cost 74-163 ns from one
// second to the next there: host noise), so they get five rounds; an
// end-to-end round costs minutes, so those get three, the least a median
// with a spread needs. make bench-quick runs one round of everything, at
// 100 ms per benchmark, or one op where one op is itself a transfer of
// megabytes (bench/transfer and the other end-to-end packages) or where
// the benchmark's setup is the cost (core: a table of 1M peers, 10,000
// sessions; tracker: 1M and 10M packets in flight; internal/wheel: 1M
// timers): go test runs a benchmark's function again for each b.N it
// tries, setup included, so 1x runs that setup once. The run prints each
// package's time per round, and after round 1 an estimate of the total:
// tune here.
var plans = []struct {
	prefix string
	plan
}{
	{"bench/messages", plan{Rounds: 3, Benchtime: "1s", Quick: "100ms"}},
	{"core/", plan{Rounds: 5, Benchtime: "1s", Quick: "100ms"}},
	{"core", plan{Rounds: 5, Benchtime: "1s", Quick: "1x"}},
	{"tracker", plan{Rounds: 5, Benchtime: "1s", Quick: "1x"}},
	{"internal/wheel", plan{Rounds: 5, Benchtime: "1s", Quick: "1x"}},
	{"bench/", plan{Rounds: 3, Benchtime: "1s", Quick: "1x"}},
	{"", plan{Rounds: 5, Benchtime: "1s", Quick: "100ms"}},
}

const modulePath = "github.com/petrel-transport/petrel"

// planFor is pkg's plan.
func planFor(pkg string) plan {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, modulePath), "/")
	for _, p := range plans {
		if strings.HasPrefix(rel, p.prefix) {
			return p.plan
		}
	}
	return plans[len(plans)-1].plan
}

// isE2E reports whether pkg is one of bench's end-to-end packages, whose
// binaries accept -petrel.cpuprofile and -petrel.latency.
func isE2E(pkg string) bool { return strings.HasPrefix(pkg, modulePath+"/bench/") }
