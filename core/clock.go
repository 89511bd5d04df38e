package core

import "github.com/petrel-transport/petrel/internal/monotime"

// Clock is the Node's source of time for its timer wheel and for the
// timestamps it keeps (last connected, retention, backoff deadlines).
//
// In production leave Config.Clock nil (the system monotonic clock) and let
// the Node drive its wheel from a ticker goroutine. Tests set a fake Clock and
// Config.ManualAdvance, and move time themselves with Node.Advance: this is
// the seam that makes every timer-driven behaviour testable without sleeps.
type Clock interface {
	// Now returns the current instant. It must not decrease and must be
	// safe for concurrent use.
	Now() monotime.Time
}

// systemClock is the default Clock: monotime.Now.
type systemClock struct{}

func (systemClock) Now() monotime.Time { return monotime.Now() }
