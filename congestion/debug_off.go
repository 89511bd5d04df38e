//go:build !petreldebug

package congestion

// debugBuild makes accounting bugs (a FlightSize underflow) panic.
// Test binaries panic too (see panicOnUnderflow).
const debugBuild = false
