// Package monotime is petrel's clock for the per-packet path: a monotonic
// instant as int64 nanoseconds since a process-wide epoch.
//
// One concern: a time value that is 8 bytes, compares with <, subtracts to a
// time.Duration and never jumps with the wall clock. Every per-packet API in
// petrel (tracker, congestion, wheel) takes `now` as a monotime.Time value, so
// tests drive them with a fake clock simply by passing values.
//
// Invariants:
//   - Now() never decreases within a process (it reads Go's monotonic clock).
//   - The zero Time means "unset"; Now() never returns it.
package monotime
