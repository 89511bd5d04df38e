//go:build petreldebug

package congestion

// debugBuild makes accounting bugs (a FlightSize underflow) panic.
const debugBuild = true
