//go:build unix

package transfer

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used, user plus system,
// over all its threads (getrusage(2), RUSAGE_SELF): both endpoints of a
// link, the relay and the runtime (GC) included. ok is false where the
// kernel refused.
func cpuTime() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
