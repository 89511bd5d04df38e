// Command report runs petrel's benchmarks and writes BENCHMARKS.md from the
// run: the machine, the Go version, the date, every benchmark line as `go
// test -bench` printed it, and the contract ratios of the issues computed
// from lines of the same run (a speed claim is always a ratio against a
// baseline measured in the same binary, back to back).
//
// It is what `make bench` runs, from bench/ (a module of its own, so the
// transports it compares with stay out of the library's go.mod), over the
// packages of both modules. It never edits figures by hand: every number in
// BENCHMARKS.md comes from the output captured in this run.
//
// Usage (in bench/):
//
//	go run ./report [-modules ..,.] [-benchtime 1s] [-count 9] [-bench regexp] [-pkg ./...] [-tags t] [-o ../BENCHMARKS.md]
//
// -modules lists module directories; every go command (go list, go test
// -list, go test -c) runs in the package's own module directory, so each
// package builds against its own go.mod, and each test binary runs in its
// package's directory, as go test runs it.
//
// Each package's test binary is built once and the benchmarks run in -count
// rounds, every benchmark once per round, so a claim's two sides are always
// measured in the same round. A ratio claim is the median of its per-round
// ratios and any other claim the median of its values, so one noisy round on
// a shared machine does not decide it; every round's line is published. A
// claim whose benchmark is absent from the run is "not measured", never met.
// Nine rounds by default: on the 2-vCPU VM the same lookups on the same
// table cost 74-163 ns from one second to the next (host noise), so a
// median of five per-round ratios still fell either side of a 2x target.
package main
