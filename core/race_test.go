//go:build race

package core_test

// raceEnabled: the race detector makes sync.Pool drop a quarter of Puts
// (to shake out reuse bugs), so code that recycles through one allocates.
const raceEnabled = true
