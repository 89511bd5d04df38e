package transfer

import "testing"

// BenchmarkAblation: BenchmarkTransfer/petrel-gnet (one stream on
// loopback, block bytes per op, MB/s goodput and cpu-s/GiB over both
// ends, the same harness) with one mechanism turned off or changed per
// line (ablations): default, no-gso-gro, no-mmsg, poller, chacha20. The
// ratio of default to a line is that mechanism's share of petrel's
// goodput and CPU cost on this machine; compare lines of one run only.
func BenchmarkAblation(b *testing.B) {
	for _, a := range ablations {
		b.Run(a.name, func(b *testing.B) { benchmark(b, ablationSetup(a), false, 1, block) })
	}
}
