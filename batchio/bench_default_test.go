//go:build !linux

package batchio

import (
	"testing"
	"time"
)

// setRawBudget skips: only the Linux Conn makes sends raw, so a variant
// that changes the budget measures nothing here.
func setRawBudget(tb testing.TB, _ *Conn, d time.Duration) {
	if d != rawSendBudget {
		tb.Skip("raw sends are Linux-only")
	}
}
