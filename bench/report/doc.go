// Command report runs petrel's benchmarks and writes BENCHMARKS.md from the
// run: the machine, the Go version, the date, every benchmark line as `go
// test -bench` printed it, and the contract ratios of the issues computed
// from lines of the same run (a speed claim is always a ratio against a
// baseline measured in the same binary, back to back).
//
// It is what `make bench` runs. It never edits figures by hand: every number
// in BENCHMARKS.md comes from the output captured in this run.
//
// Usage:
//
//	go run ./bench/report [-benchtime 1s] [-count 3] [-bench regexp] [-pkg ./...] [-o BENCHMARKS.md]
//
// With -count above 1 every claim is evaluated on the median of each
// benchmark's runs, so one noisy run on a shared machine does not decide it;
// every run's line is still published.
package main
