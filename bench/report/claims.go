package main

import (
	"fmt"
	"math"
	"sort"
)

// claim is one target an issue sets for a benchmark, checked against lines of
// the same run. With Den empty the claim is on Num's metric itself;
// otherwise on the ratio Num/Den of the same metric.
type claim struct {
	Issue  string
	What   string
	Num    string
	Den    string
	Unit   string
	Target float64
	AtMost bool // the value must be <= Target (otherwise >= Target)
}

// claims are the contract targets of the issues. Benchmark names are part of
// each issue's contract.
var claims = []claim{
	{"#2", "DropStream: scan / indexed time (1M in flight)", "BenchmarkDropStream/scan", "BenchmarkDropStream/indexed", "ns/op", 100, false},
	{"#2", "DropStream: indexed at 10M / indexed at 1M time", "BenchmarkDropStream/indexed-10M", "BenchmarkDropStream/indexed", "ns/op", 1.5, true},
	{"#2", "SentAck allocations", "BenchmarkSentAck", "", "allocs/op", 0, true},
	{"#3", "TableLoad: rwmutex / petrel time", "BenchmarkTableLoad/rwmutex", "BenchmarkTableLoad/petrel", "ns/op", 2, false},
	{"#3", "TableLoad: syncmap / petrel time", "BenchmarkTableLoad/syncmap", "BenchmarkTableLoad/petrel", "ns/op", 3, false},
	{"#3", "TableLoad: xsync.MapOf / petrel time (the map the index replaced; not an issue target)", "BenchmarkTableLoad/xsync", "BenchmarkTableLoad/petrel", "ns/op", 1, false},
	{"#3", "TableLoad ceiling: rwmutex / unsynchronised map time (what removing the lock can gain at most)", "BenchmarkTableLoad/rwmutex", "BenchmarkTableLoad/nolock", "ns/op", 2, false},
	{"#3", "Touch allocations", "BenchmarkTouch", "", "allocs/op", 0, true},
	{"#3", "Table memory per peer at 1M peers", "BenchmarkTableMemory", "", "B/peer", 256, true},
	{"#4", "Timers: runtime / wheel time per timer", "BenchmarkTimers/runtime", "BenchmarkTimers/wheel", "ns/timer", 3, false},
	{"#4", "Timers: runtime / wheel bytes per live timer", "BenchmarkTimers/runtime", "BenchmarkTimers/wheel", "B/timer", 2, false},
	{"#4", "Timers: wheel allocations per Add+Cancel", "BenchmarkTimers/wheel", "", "allocs/op", 0, true},
	{"#4", "TransientChurn allocations", "BenchmarkTransientChurn", "", "allocs/op", 0, true},
	{"#4", "Closest: scan / indexed time", "BenchmarkClosest/scan", "BenchmarkClosest/indexed", "ns/op", 1, false},
	{"#5", "Loopback: gso / stdlib datagrams/s", "BenchmarkLoopback/gso", "BenchmarkLoopback/stdlib", "pkts/s", 3, false},
	{"#5", "Loopback: gsogro / stdlib datagrams/s", "BenchmarkLoopback/gsogro", "BenchmarkLoopback/stdlib", "pkts/s", 5, false},
	{"#5", "Loopback: mmsg / stdlib datagrams/s", "BenchmarkLoopback/mmsg", "BenchmarkLoopback/stdlib", "pkts/s", 1, false},
	{"#5", "Loopback: mmsg / mmsg-sched datagrams/s (raw sends against sends through the scheduler; not an issue target)", "BenchmarkLoopback/mmsg", "BenchmarkLoopback/mmsg-sched", "pkts/s", 1, false},
	{"#5", "Send path alone: stdlib / mmsg time per datagram (not an issue target)", "BenchmarkSend/stdlib", "BenchmarkSend/mmsg", "ns/op", 1, false},
	{"#5", "Receive path alone: stdlib / mmsg time per datagram (not an issue target)", "BenchmarkReceive/stdlib", "BenchmarkReceive/mmsg", "ns/op", 1, false},
	{"#5", "Loopback: mmsg loss", "BenchmarkLoopback/mmsg", "", "loss", 0.01, true},
	{"#5", "Loopback: gso loss", "BenchmarkLoopback/gso", "", "loss", 0.01, true},
	{"#5", "Loopback: gsogro loss", "BenchmarkLoopback/gsogro", "", "loss", 0.01, true},
	{"#10", "Seal: petrel / bare cipher.AEAD time, AES-128-GCM, 1200 B", "BenchmarkSeal/aesgcm", "BenchmarkSeal/aesgcm-bare", "ns/op", 1.1, true},
	{"#10", "Seal: petrel / bare cipher.AEAD time, ChaCha20-Poly1305, 1200 B", "BenchmarkSeal/chacha", "BenchmarkSeal/chacha-bare", "ns/op", 1.1, true},
	{"#10", "Open: petrel / bare cipher.AEAD time, AES-128-GCM, 1200 B", "BenchmarkOpen/aesgcm", "BenchmarkOpen/aesgcm-bare", "ns/op", 1.1, true},
	{"#10", "Open: petrel / bare cipher.AEAD time, ChaCha20-Poly1305, 1200 B", "BenchmarkOpen/chacha", "BenchmarkOpen/chacha-bare", "ns/op", 1.1, true},
	{"#10", "Seal allocations (AES-128-GCM)", "BenchmarkSeal/aesgcm", "", "allocs/op", 0, true},
	{"#10", "Open allocations (AES-128-GCM)", "BenchmarkOpen/aesgcm", "", "allocs/op", 0, true},
	{"#10", "Decode allocations (a packet with an ACK of 32 ranges and a full STREAM frame)", "BenchmarkDecode", "", "allocs/op", 0, true},
	{"#10", "Handshakes: direct / with the cookie round trip, per second (not an issue target: the cost of a cookie)", "BenchmarkHandshake/direct", "BenchmarkHandshake/cookie", "handshakes/s", 1, false},
	{"#11", "Messages 1KB: petrel-gnet / quic-go msgs/s", "BenchmarkMessages/1KB/petrel-gnet", "BenchmarkMessages/1KB/quic-go", "msgs/s", 1.5, false},
	{"#11", "Messages 1KB: petrel-poller / quic-go msgs/s (not an issue target: the portable driver)", "BenchmarkMessages/1KB/petrel-poller", "BenchmarkMessages/1KB/quic-go", "msgs/s", 1, false},
	{"#11", "Messages 64B: petrel-gnet p99 / quic-go p99 round-trip latency", "BenchmarkMessages/64B/petrel-gnet", "BenchmarkMessages/64B/quic-go", "p99-us", 1.0, true},
	{"#11", "Messages 64B: petrel-poller p99 / quic-go p99 round-trip latency (the same target, met or not by the portable driver)", "BenchmarkMessages/64B/petrel-poller", "BenchmarkMessages/64B/quic-go", "p99-us", 1.0, true},
	{"#11", "Idle session memory (10,000 sessions on one node)", "BenchmarkIdleSessions", "", "B/session", 16384, true},
	{"#12", "Transfer, one stream: petrel-gnet / quic-go goodput", "BenchmarkTransfer/petrel-gnet", "BenchmarkTransfer/quic-go", "MB/s", 1.5, false},
	{"#12", "Transfer, one stream: petrel-gnet / quic-go CPU time per GiB (both endpoints)", "BenchmarkTransfer/petrel-gnet", "BenchmarkTransfer/quic-go", "cpu-s/GiB", 0.7, true},
	{"#12", "Transfer through the relay (1% loss, 20 ms RTT): petrel-gnet / quic-go goodput", "BenchmarkTransfer/impaired/petrel-gnet", "BenchmarkTransfer/impaired/quic-go", "MB/s", 1.2, false},
	{"#12", "Transfer, one stream: petrel-poller / quic-go goodput (the same target, met or not by the portable driver)", "BenchmarkTransfer/petrel-poller", "BenchmarkTransfer/quic-go", "MB/s", 1.5, false},
	{"#12", "Transfer, one stream: petrel-poller / quic-go CPU time per GiB (the same target, met or not by the portable driver)", "BenchmarkTransfer/petrel-poller", "BenchmarkTransfer/quic-go", "cpu-s/GiB", 0.7, true},
	{"#12", "Transfer through the relay (1% loss, 20 ms RTT): petrel-poller / quic-go goodput (the same target, met or not by the portable driver)", "BenchmarkTransfer/impaired/petrel-poller", "BenchmarkTransfer/impaired/quic-go", "MB/s", 1.2, false},
	{"#12", "Impairment relay, unimpaired: MB/s of 1200-byte datagrams through it", "BenchmarkRelay/relay", "", "MB/s", 1000, false},
	{"#12", "Impairment relay / direct loopback MB/s (not an issue target: what the relay costs)", "BenchmarkRelay/relay", "BenchmarkRelay/direct", "MB/s", 0.5, false},
}

// verdict is a claim evaluated against a run.
type verdict struct {
	claim
	Value float64
	Found bool
	Met   bool
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// evaluate checks every claim against results. A claim on one metric takes
// the median of that metric's values; a ratio claim takes the median of the
// per-round ratios, each from the two lines of one round (a round runs every
// benchmark once), so the comparison is always between lines measured close
// together in time.
func evaluate(cs []claim, rs []result) []verdict {
	out := make([]verdict, 0, len(cs))
	for _, c := range cs {
		v := verdict{claim: c}
		var vals []float64
		if c.Den == "" {
			for _, r := range rs {
				if x, ok := r.Metrics[c.Unit]; ok && r.Name == c.Num {
					vals = append(vals, x)
				}
			}
		} else {
			num, den := byRound(rs, c.Num, c.Unit), byRound(rs, c.Den, c.Unit)
			for round, n := range num {
				if d, ok := den[round]; ok && d != 0 {
					vals = append(vals, n/d)
				}
			}
		}
		if len(vals) > 0 {
			v.Value, v.Found = median(vals), true
		}
		if v.Found && !math.IsNaN(v.Value) {
			if c.AtMost {
				v.Met = v.Value <= c.Target
			} else {
				v.Met = v.Value >= c.Target
			}
		}
		out = append(out, v)
	}
	return out
}

// byRound returns name's unit metric per round (the median, if a round ran
// it more than once).
func byRound(rs []result, name, unit string) map[int]float64 {
	vals := map[int][]float64{}
	for _, r := range rs {
		if x, ok := r.Metrics[unit]; ok && r.Name == name {
			vals[r.Round] = append(vals[r.Round], x)
		}
	}
	out := make(map[int]float64, len(vals))
	for round, vs := range vals {
		out[round] = median(vs)
	}
	return out
}

func (v verdict) String() string {
	op := ">="
	if v.AtMost {
		op = "<="
	}
	if !v.Found {
		// Absent (not built, skipped, failed, or one side of a ratio
		// missing): never met, and the table says so.
		return fmt.Sprintf("%s | %s | - | %s %g | not measured", v.Issue, v.What, op, v.Target)
	}
	mark := "met"
	if !v.Met {
		mark = "MISSED"
	}
	return fmt.Sprintf("%s | %s | %.3g | %s %g | %s", v.Issue, v.What, v.Value, op, v.Target, mark)
}
