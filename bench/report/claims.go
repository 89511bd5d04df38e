package main

import (
	"fmt"
	"math"
	"strings"
)

// claim is one target an issue sets for a benchmark, checked against lines of
// the same run. With Den empty the claim is on Num's metric itself;
// otherwise on the ratio Num/Den of the same metric, taken per round. With
// Cells set, each cell is a benchmark-name template whose "{}" Num and Den
// (transport names) fill in, and the claim holds only if the ratio meets
// the target in every cell.
type claim struct {
	Issue  string
	What   string
	Num    string
	Den    string
	Unit   string
	Target float64
	AtMost bool     // the value must be <= Target (otherwise >= Target)
	Cells  []string // optional: the claim is checked in each cell
}

// Names of the end-to-end benchmarks (the bench contract): the report's
// tables and claims look them up by these names.
var (
	transferNames = []string{"petrel-gnet", "petrel-poller", "quic-go", "kcp-go", "tcp", "udp-blast"}
	lossNames     = []string{"petrel-gnet", "petrel-poller", "quic-go", "kcp-go", "tcp"}
	lossCells     = []string{"loss0.1%-rtt20ms", "loss1%-rtt20ms", "loss5%-rtt20ms", "loss0.1%-rtt100ms", "loss1%-rtt100ms", "loss5%-rtt100ms", "100mbit-rtt20ms"}
	msgNames      = []string{"petrel-gnet", "petrel-poller", "quic-go", "kcp-go", "tcp"}
	ablations     = []string{"default", "no-gso-gro", "no-mmsg", "poller", "chacha20"}
)

// kcpCells are the cells of "ahead of kcp-go everywhere": the unimpaired
// transfer and every cell of the loss matrix. A cell is a pair of
// benchmark-name templates, "{}" standing for the transport.
func kcpCells() []string {
	cells := []string{"BenchmarkTransfer/{}"}
	for _, c := range lossCells {
		cells = append(cells, "BenchmarkLossMatrix/"+c+"/{}")
	}
	return cells
}

// e2eClaims are the targets of the end-to-end comparison: the summary of
// BENCHMARKS.md lists them first.
var e2eClaims = []claim{
	{Issue: "#12 #13", What: "Transfer, one stream: petrel-gnet / quic-go goodput", Num: "BenchmarkTransfer/petrel-gnet", Den: "BenchmarkTransfer/quic-go", Unit: "MB/s", Target: 1.5},
	{Issue: "#12 #13", What: "Transfer, one stream: petrel-poller / quic-go goodput", Num: "BenchmarkTransfer/petrel-poller", Den: "BenchmarkTransfer/quic-go", Unit: "MB/s", Target: 1.5},
	{Issue: "#13", What: "Transfer, one stream: petrel-gnet / quic-go goodput (the project's goal, beyond the target)", Num: "BenchmarkTransfer/petrel-gnet", Den: "BenchmarkTransfer/quic-go", Unit: "MB/s", Target: 2},
	{Issue: "#12 #13", What: "Loss matrix, 1% loss / 20 ms RTT: petrel-gnet / quic-go goodput", Num: "BenchmarkLossMatrix/loss1%-rtt20ms/petrel-gnet", Den: "BenchmarkLossMatrix/loss1%-rtt20ms/quic-go", Unit: "MB/s", Target: 1.2},
	{Issue: "#12 #13", What: "Loss matrix, 1% loss / 20 ms RTT: petrel-poller / quic-go goodput", Num: "BenchmarkLossMatrix/loss1%-rtt20ms/petrel-poller", Den: "BenchmarkLossMatrix/loss1%-rtt20ms/quic-go", Unit: "MB/s", Target: 1.2},
	{Issue: "#13", What: "petrel-gnet / kcp-go goodput in every cell (Transfer and each LossMatrix cell; the value is the worst cell)", Num: "petrel-gnet", Den: "kcp-go", Unit: "MB/s", Target: 1, Cells: kcpCells()},
	{Issue: "#13", What: "petrel-poller / kcp-go goodput in every cell (Transfer and each LossMatrix cell; the value is the worst cell)", Num: "petrel-poller", Den: "kcp-go", Unit: "MB/s", Target: 1, Cells: kcpCells()},
	{Issue: "#12 #13", What: "Transfer, one stream: petrel-gnet / quic-go CPU time per GiB (both endpoints)", Num: "BenchmarkTransfer/petrel-gnet", Den: "BenchmarkTransfer/quic-go", Unit: "cpu-s/GiB", Target: 0.7, AtMost: true},
	{Issue: "#12 #13", What: "Transfer, one stream: petrel-poller / quic-go CPU time per GiB (both endpoints)", Num: "BenchmarkTransfer/petrel-poller", Den: "BenchmarkTransfer/quic-go", Unit: "cpu-s/GiB", Target: 0.7, AtMost: true},
	{Issue: "#11 #13", What: "Messages 64B: petrel-gnet p99 / quic-go p99 round trip", Num: "BenchmarkMessages/64B/petrel-gnet", Den: "BenchmarkMessages/64B/quic-go", Unit: "p99-us", Target: 1, AtMost: true},
	{Issue: "#11 #13", What: "Messages 64B: petrel-poller p99 / quic-go p99 round trip", Num: "BenchmarkMessages/64B/petrel-poller", Den: "BenchmarkMessages/64B/quic-go", Unit: "p99-us", Target: 1, AtMost: true},
	{Issue: "#13", What: "Messages 1KB: petrel-gnet p99 / quic-go p99 round trip", Num: "BenchmarkMessages/1KB/petrel-gnet", Den: "BenchmarkMessages/1KB/quic-go", Unit: "p99-us", Target: 1, AtMost: true},
	{Issue: "#13", What: "Messages 1KB: petrel-poller p99 / quic-go p99 round trip", Num: "BenchmarkMessages/1KB/petrel-poller", Den: "BenchmarkMessages/1KB/quic-go", Unit: "p99-us", Target: 1, AtMost: true},
	{Issue: "#13", What: "Transfer goodput petrel-gnet / AES-128-GCM ceiling (seal on one core, open on the other)", Num: "BenchmarkTransfer/petrel-gnet", Den: "BenchmarkCeiling/aes-128-gcm", Unit: "MB/s", Target: 0.5},
	{Issue: "#13", What: "Transfer goodput petrel-poller / AES-128-GCM ceiling", Num: "BenchmarkTransfer/petrel-poller", Den: "BenchmarkCeiling/aes-128-gcm", Unit: "MB/s", Target: 0.5},
	{Issue: "#11", What: "Messages 1KB: petrel-gnet / quic-go msgs/s", Num: "BenchmarkMessages/1KB/petrel-gnet", Den: "BenchmarkMessages/1KB/quic-go", Unit: "msgs/s", Target: 1.5},
	{Issue: "#11", What: "Messages 1KB: petrel-poller / quic-go msgs/s (not an issue target: the portable driver)", Num: "BenchmarkMessages/1KB/petrel-poller", Den: "BenchmarkMessages/1KB/quic-go", Unit: "msgs/s", Target: 1},
	{Issue: "#11", What: "Idle session memory (10,000 sessions on one node)", Num: "BenchmarkIdleSessions", Unit: "B/session", Target: 16384, AtMost: true},
	{Issue: "#12", What: "Impairment relay, unimpaired: MB/s of 1200-byte datagrams through it", Num: "BenchmarkRelay/relay", Unit: "MB/s", Target: 1000},
	{Issue: "#12", What: "Impairment relay / direct loopback MB/s (not an issue target: what the relay costs)", Num: "BenchmarkRelay/relay", Den: "BenchmarkRelay/direct", Unit: "MB/s", Target: 0.5},
}

// componentClaims are the contract targets of the component benchmarks in
// the library's module. Benchmark names are part of each issue's contract.
var componentClaims = []claim{
	{Issue: "#2", What: "DropStream: scan / indexed time (1M in flight)", Num: "BenchmarkDropStream/scan", Den: "BenchmarkDropStream/indexed", Unit: "ns/op", Target: 100},
	{Issue: "#2", What: "DropStream: indexed at 10M / indexed at 1M time", Num: "BenchmarkDropStream/indexed-10M", Den: "BenchmarkDropStream/indexed", Unit: "ns/op", Target: 1.5, AtMost: true},
	{Issue: "#2", What: "SentAck allocations", Num: "BenchmarkSentAck", Unit: "allocs/op", AtMost: true},
	{Issue: "#3", What: "TableLoad: rwmutex / petrel time", Num: "BenchmarkTableLoad/rwmutex", Den: "BenchmarkTableLoad/petrel", Unit: "ns/op", Target: 2},
	{Issue: "#3", What: "TableLoad: syncmap / petrel time", Num: "BenchmarkTableLoad/syncmap", Den: "BenchmarkTableLoad/petrel", Unit: "ns/op", Target: 3},
	{Issue: "#3", What: "TableLoad: xsync.MapOf / petrel time (the map the index replaced; not an issue target)", Num: "BenchmarkTableLoad/xsync", Den: "BenchmarkTableLoad/petrel", Unit: "ns/op", Target: 1},
	{Issue: "#3", What: "TableLoad ceiling: rwmutex / unsynchronised map time (what removing the lock can gain at most)", Num: "BenchmarkTableLoad/rwmutex", Den: "BenchmarkTableLoad/nolock", Unit: "ns/op", Target: 2},
	{Issue: "#3", What: "Touch allocations", Num: "BenchmarkTouch", Unit: "allocs/op", AtMost: true},
	{Issue: "#3", What: "Table memory per peer at 1M peers", Num: "BenchmarkTableMemory", Unit: "B/peer", Target: 256, AtMost: true},
	{Issue: "#4", What: "Timers: runtime (one timer reused per owner, Reset/Stop) / wheel time per timer", Num: "BenchmarkTimers/runtime-reuse", Den: "BenchmarkTimers/wheel", Unit: "ns/timer", Target: 3},
	{Issue: "#4", What: "Timers: runtime (one timer reused per owner) / wheel bytes per live timer", Num: "BenchmarkTimers/runtime-reuse", Den: "BenchmarkTimers/wheel", Unit: "B/timer", Target: 2},
	{Issue: "#4", What: "Timers: runtime (a new time.AfterFunc per arming; not the fair baseline) / wheel time per timer", Num: "BenchmarkTimers/runtime", Den: "BenchmarkTimers/wheel", Unit: "ns/timer", Target: 3},
	{Issue: "#4", What: "Timers: runtime (a new time.AfterFunc per arming; not the fair baseline) / wheel bytes per live timer", Num: "BenchmarkTimers/runtime", Den: "BenchmarkTimers/wheel", Unit: "B/timer", Target: 2},
	{Issue: "#4", What: "Wheel advancing through cascades: runtime (reused timers) / wheel CPU per timer fired (not an issue target)", Num: "BenchmarkWheelAdvance/cascade/runtime-reuse", Den: "BenchmarkWheelAdvance/cascade/wheel", Unit: "ns/fired", Target: 1},
	{Issue: "#4", What: "Timers: wheel allocations per Add+Cancel", Num: "BenchmarkTimers/wheel", Unit: "allocs/op", AtMost: true},
	{Issue: "#4", What: "TransientChurn allocations", Num: "BenchmarkTransientChurn", Unit: "allocs/op", AtMost: true},
	{Issue: "#4", What: "Closest: scan / indexed time", Num: "BenchmarkClosest/scan", Den: "BenchmarkClosest/indexed", Unit: "ns/op", Target: 1},
	{Issue: "#5", What: "Loopback: gso / stdlib datagrams/s", Num: "BenchmarkLoopback/gso", Den: "BenchmarkLoopback/stdlib", Unit: "pkts/s", Target: 3},
	{Issue: "#5", What: "Loopback: gsogro / stdlib datagrams/s", Num: "BenchmarkLoopback/gsogro", Den: "BenchmarkLoopback/stdlib", Unit: "pkts/s", Target: 5},
	{Issue: "#5", What: "Loopback: mmsg / stdlib datagrams/s", Num: "BenchmarkLoopback/mmsg", Den: "BenchmarkLoopback/stdlib", Unit: "pkts/s", Target: 1},
	{Issue: "#5", What: "Loopback: mmsg / mmsg-sched datagrams/s (raw sends against sends through the scheduler; not an issue target)", Num: "BenchmarkLoopback/mmsg", Den: "BenchmarkLoopback/mmsg-sched", Unit: "pkts/s", Target: 1},
	{Issue: "#5", What: "Send path alone: stdlib / mmsg time per datagram (not an issue target)", Num: "BenchmarkSend/stdlib", Den: "BenchmarkSend/mmsg", Unit: "ns/op", Target: 1},
	{Issue: "#5", What: "Receive path alone: stdlib / mmsg time per datagram (not an issue target)", Num: "BenchmarkReceive/stdlib", Den: "BenchmarkReceive/mmsg", Unit: "ns/op", Target: 1},
	{Issue: "#5", What: "Loopback: mmsg loss", Num: "BenchmarkLoopback/mmsg", Unit: "loss", Target: 0.01, AtMost: true},
	{Issue: "#5", What: "Loopback: gso loss", Num: "BenchmarkLoopback/gso", Unit: "loss", Target: 0.01, AtMost: true},
	{Issue: "#5", What: "Loopback: gsogro loss", Num: "BenchmarkLoopback/gsogro", Unit: "loss", Target: 0.01, AtMost: true},
	{Issue: "#10", What: "Seal: petrel / bare cipher.AEAD time, AES-128-GCM, 1200 B", Num: "BenchmarkSeal/aesgcm", Den: "BenchmarkSeal/aesgcm-bare", Unit: "ns/op", Target: 1.1, AtMost: true},
	{Issue: "#10", What: "Seal: petrel / bare cipher.AEAD time, ChaCha20-Poly1305, 1200 B", Num: "BenchmarkSeal/chacha", Den: "BenchmarkSeal/chacha-bare", Unit: "ns/op", Target: 1.1, AtMost: true},
	{Issue: "#10", What: "Open: petrel / bare cipher.AEAD time, AES-128-GCM, 1200 B", Num: "BenchmarkOpen/aesgcm", Den: "BenchmarkOpen/aesgcm-bare", Unit: "ns/op", Target: 1.1, AtMost: true},
	{Issue: "#10", What: "Open: petrel / bare cipher.AEAD time, ChaCha20-Poly1305, 1200 B", Num: "BenchmarkOpen/chacha", Den: "BenchmarkOpen/chacha-bare", Unit: "ns/op", Target: 1.1, AtMost: true},
	{Issue: "#10", What: "Seal allocations (AES-128-GCM)", Num: "BenchmarkSeal/aesgcm", Unit: "allocs/op", AtMost: true},
	{Issue: "#10", What: "Open allocations (AES-128-GCM)", Num: "BenchmarkOpen/aesgcm", Unit: "allocs/op", AtMost: true},
	{Issue: "#10", What: "Decode allocations (a packet with an ACK of 32 ranges and a full STREAM frame)", Num: "BenchmarkDecode", Unit: "allocs/op", AtMost: true},
	{Issue: "#10", What: "Handshakes: direct / with the cookie round trip, per second (not an issue target: the cost of a cookie)", Num: "BenchmarkHandshake/direct", Den: "BenchmarkHandshake/cookie", Unit: "handshakes/s", Target: 1},
}

// verdict is a claim evaluated against a run.
type verdict struct {
	claim
	Value  stat
	Found  bool
	Met    bool
	Detail string // for a claim over cells: the cells that missed or were not measured
	Missed int    // for a claim over cells: cells measured that missed
}

// evaluate checks every claim against rs. A claim on one metric takes the
// median of that metric's per-round values; a ratio claim takes the median
// of the per-round ratios, each from the two lines of one round (a round
// runs every benchmark once), so the comparison is always between lines
// measured close together in time. A claim over cells is met only if every
// cell was measured and met; its value is the worst cell's.
func evaluate(cs []claim, rs []result) []verdict {
	d := runData{rs}
	out := make([]verdict, 0, len(cs))
	for _, c := range cs {
		v := verdict{claim: c}
		switch {
		case len(c.Cells) > 0:
			v = evaluateCells(d, c)
		case c.Den == "":
			v.Value, v.Found = d.stat(c.Num, c.Unit)
		default:
			v.Value, v.Found = d.ratio(c.Num, c.Den, c.Unit)
		}
		if len(c.Cells) == 0 && v.Found {
			v.Met = c.meets(v.Value.Median)
		}
		out = append(out, v)
	}
	return out
}

func (c claim) meets(x float64) bool {
	if math.IsNaN(x) {
		return false
	}
	if c.AtMost {
		return x <= c.Target
	}
	return x >= c.Target
}

func evaluateCells(d runData, c claim) verdict {
	v := verdict{claim: c, Met: true}
	var missed, absent []string
	for _, cell := range c.Cells {
		num, den := strings.ReplaceAll(cell, "{}", c.Num), strings.ReplaceAll(cell, "{}", c.Den)
		s, ok := d.ratio(num, den, c.Unit)
		label := strings.TrimSuffix(strings.TrimPrefix(cell, "Benchmark"), "/{}")
		if !ok {
			absent = append(absent, label)
			v.Met = false
			continue
		}
		if !v.Found || c.worse(s.Median, v.Value.Median) {
			v.Value = s
		}
		v.Found = true
		if !c.meets(s.Median) {
			missed = append(missed, fmt.Sprintf("%s %s", label, num2(s.Median)))
			v.Missed++
			v.Met = false
		}
	}
	if !v.Found {
		v.Met = false
	}
	var parts []string
	if len(missed) > 0 {
		parts = append(parts, "missed in: "+strings.Join(missed, ", "))
	}
	if len(absent) > 0 && v.Found {
		parts = append(parts, "not measured in this run: "+strings.Join(absent, ", "))
	}
	v.Detail = strings.Join(parts, "; ")
	return v
}

// worse reports whether x is further from meeting c than y.
func (c claim) worse(x, y float64) bool {
	if c.AtMost {
		return x > y
	}
	return x < y
}

func num2(x float64) string { return num(x) + "×" }

// row is the verdict as a row of the targets table.
func (v verdict) row() string {
	op := ">="
	if v.AtMost {
		op = "<="
	}
	what := v.What
	if v.Detail != "" {
		what += " — " + v.Detail
	}
	if !v.Found {
		// Absent (not built, skipped, failed, or one side of a ratio
		// missing): never met, and the table says so.
		return fmt.Sprintf("%s | %s | - | %s %g | not measured in this run", v.Issue, what, op, v.Target)
	}
	mark := "met"
	switch {
	case !v.Met && len(v.Cells) > 0 && v.Missed == 0:
		mark = "incomplete: met where measured"
	case !v.Met:
		mark = "MISSED"
	}
	return fmt.Sprintf("%s | %s | %s | %s %g | %s", v.Issue, what, v.Value, op, v.Target, mark)
}
