// Command report runs petrel's benchmarks and writes BENCHMARKS.md from the
// run: the machine, kernel, Go version, date and commit; a summary of how
// petrel compares with the transports a user would pick instead (quic-go,
// kcp-go, TCP, a raw UDP blast) and the targets of the issues; the loss
// matrix, latency, scaling and ablation tables; SVG plots (gonum.org/v1/plot)
// in bench/plots/; where petrel's CPU time goes, from the profiles of one
// extra pass; the component targets; and every benchmark line as `go test
// -bench` printed it. A speed claim is always a ratio against a baseline
// measured in the same run.
//
// It is what `make bench` and `make bench-quick` run, from bench/ (a module
// of its own, so the transports it compares with stay out of the library's
// go.mod), over the packages of both modules. It never edits figures by
// hand: every number in BENCHMARKS.md comes from the output captured in
// this run.
//
// Usage (in bench/):
//
//	go run ./report [-modules ..,.] [-quick] [-count n] [-benchtime d] [-bench regexp] [-pkg ./...] [-tags t] [-o ../BENCHMARKS.md] [-plots plots] [-profiles profiles]
//
// Each package's test binary is built once (every go command runs in the
// package's own module directory, against its own go.mod) and the
// benchmarks run in interleaved rounds: round r runs, in turn, every
// package that has more than r rounds (plan.go: five for the component
// microbenchmarks, three for the end-to-end ones), so the two sides of a
// ratio are always measured in the same round, minutes apart at most. Every
// figure is the median over its rounds with their min–max; a ratio is the
// median of the per-round ratios. A benchmark of the contract absent from
// the run is "not measured", never met, and never a crash. The time of each
// package's round is printed, and after round 1 an estimate of the total.
//
// After the rounds, the end-to-end packages run their profiled benchmarks
// once more with -petrel.cpuprofile and -petrel.latency (flags of
// bench/internal/transports) into -profiles; the CPU profiles are bucketed
// (crypto, syscalls, copying, scheduling, GC, petrel, other) and the
// latency CSVs give the CDF plots. Those lines are not figures of the
// report: profiling perturbs what it measures.
//
// -quick (make bench-quick) is the smoke run: one round at the plan's small
// benchtimes, the plots and the profiling pass included so that their code
// runs too. Either mode exits non-zero when a package fails to build or a
// benchmark fails to run, never because a target is missed.
package main
