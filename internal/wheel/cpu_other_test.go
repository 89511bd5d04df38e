//go:build !unix

package wheel

import "time"

// cpuTime is not available here: the benchmarks fall back to wall time.
func cpuTime() (time.Duration, bool) { return 0, false }
