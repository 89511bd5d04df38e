package batchio

// This file plans UDP GSO runs: which consecutive Messages of a write batch
// leave the host as one send. It is pure and portable so it can be fuzzed
// everywhere; only Linux executes the plan with UDP_SEGMENT.

const (
	// maxGSOSegments is UDP_MAX_SEGMENTS (include/linux/udp.h: 1 << 6);
	// newer kernels allow more, 64 is accepted by every kernel with GSO.
	maxGSOSegments = 64
	// maxGSOBytes is the largest payload of one GSO send: the IP length
	// limit 65535 minus the IPv6 header (40, RFC 8200 §3; IPv4's 20 is
	// smaller) and the UDP header (8, RFC 768). ip6_append_data and
	// ip_append_data answer EMSGSIZE above it.
	maxGSOBytes = 65535 - 40 - 8
)

// run is one send: msgs[start:start+count] to one destination from one
// source. When count
// is above 1 it carries UDP_SEGMENT with segment size size; every segment but
// the last is exactly size bytes and the last is at most size.
type run struct {
	start, count, size int
}

// planRuns appends to out at most maxRuns runs that send a prefix of msgs
// in order (all of it when maxRuns allows) and returns it.
// With gso false every run holds one message. With gso true, a run grows
// while the next message goes to the same Addr, is not longer than the
// first, comes from the same Local, keeps the run within maxSegs segments
// and maxBytes bytes, and the
// previous one was not shorter (only the last segment may be shorter).
// Empty datagrams never coalesce.
func planRuns(msgs []Message, gso bool, maxSegs, maxBytes, maxRuns int, out []run) []run {
	for i, runs := 0, 0; i < len(msgs) && runs < maxRuns; runs++ {
		size := len(msgs[i].Buffer)
		r := run{start: i, count: 1, size: size}
		if gso && size > 0 {
			total := size
			for j := i + 1; j < len(msgs) && r.count < maxSegs; j++ {
				l := len(msgs[j].Buffer)
				if l == 0 || l > size || total+l > maxBytes ||
					msgs[j].Addr != msgs[i].Addr || msgs[j].Local != msgs[i].Local {
					break
				}
				total += l
				r.count++
				if l < size {
					break
				}
			}
		}
		out = append(out, r)
		i += r.count
	}
	return out
}
