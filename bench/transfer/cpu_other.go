//go:build !unix

package transfer

import "time"

// cpuTime reports ok false: this platform has no getrusage(2), and the
// benchmarks leave cpu-s/GiB out.
func cpuTime() (d time.Duration, ok bool) { return 0, false }
