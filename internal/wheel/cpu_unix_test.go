//go:build unix

package wheel

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user plus system, over
// all its threads (getrusage(2), RUSAGE_SELF); ok is false where the
// kernel refused.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
