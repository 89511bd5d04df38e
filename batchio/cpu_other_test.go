//go:build !unix

package batchio

import (
	"testing"
	"time"
)

// processCPU is 0 where there is no getrusage: benchLoopback then reports
// no cpu-ns/pkt.
func processCPU(*testing.B) time.Duration { return 0 }
