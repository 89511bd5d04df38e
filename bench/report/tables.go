package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The tables of BENCHMARKS.md. Each cell is a stat of the run (median over
// the rounds, min–max in parentheses) or a ratio of two benchmarks taken
// per round; a benchmark of the contract absent from the run is "not
// measured", a combination outside the contract (udp-blast has no latency
// benchmark) is "—".

// figure is the cell of name's unit metric.
func figure(d runData, name, unit string, inContract bool) string {
	if s, ok := d.stat(name, unit); ok {
		return s.String()
	}
	if inContract {
		return notMeasured
	}
	return "—"
}

// versus is the cell of the per-round ratio num/den of unit.
func versus(d runData, num, den, unit string) string {
	if s, ok := d.ratio(num, den, unit); ok {
		return ratioString(s)
	}
	return "—"
}

func header(w io.Writer, cols ...string) {
	fmt.Fprintf(w, "%s\n%s\n", strings.Join(cols, " | "), strings.TrimSuffix(strings.Repeat("--- | ", len(cols)), " | "))
}

func row(w io.Writer, cells ...string) { fmt.Fprintln(w, strings.Join(cells, " | ")) }

// writeSummary is the first table: transport by transport, how petrel
// compares, each ratio against quic-go in the same round.
func writeSummary(w io.Writer, d runData) {
	const q = "quic-go"
	header(w, "transport", "goodput MB/s", "vs quic-go", "CPU s/GiB", "vs quic-go", "p99 RTT 64 B µs", "vs quic-go", "goodput 1% loss, 20 ms RTT, MB/s", "vs quic-go")
	loss := "BenchmarkLossMatrix/loss1%-rtt20ms/"
	for _, t := range transferNames {
		tr, msg, lm := "BenchmarkTransfer/"+t, "BenchmarkMessages/64B/"+t, loss+t
		row(w, t,
			figure(d, tr, "MB/s", true), versus(d, tr, "BenchmarkTransfer/"+q, "MB/s"),
			figure(d, tr, "cpu-s/GiB", true), versus(d, tr, "BenchmarkTransfer/"+q, "cpu-s/GiB"),
			figure(d, msg, "p99-us", slices.Contains(msgNames, t)), versus(d, msg, "BenchmarkMessages/64B/"+q, "p99-us"),
			figure(d, lm, "MB/s", slices.Contains(lossNames[:4], t)), versus(d, lm, loss+q, "MB/s"))
	}
	fmt.Fprintln(w)
	c, ok := d.stat("BenchmarkCeiling/aes-128-gcm", "MB/s")
	if !ok {
		fmt.Fprintf(w, "The AES-128-GCM ceiling (BenchmarkCeiling/aes-128-gcm) was not measured in this run.\n\n")
		return
	}
	fmt.Fprintf(w, "The physical limit here, AES-128-GCM sealed on one core and opened on the other (BenchmarkCeiling/aes-128-gcm, 1200-byte packets, no network): %s MB/s", c)
	if cc, ok := d.stat("BenchmarkCeiling/chacha20-poly1305", "MB/s"); ok {
		fmt.Fprintf(w, " (ChaCha20-Poly1305: %s MB/s)", cc)
	}
	fmt.Fprintf(w, ". petrel's one-stream goodput as a fraction of it:")
	for _, t := range transferNames[:2] {
		if s, ok := d.ratio("BenchmarkTransfer/"+t, "BenchmarkCeiling/aes-128-gcm", "MB/s"); ok {
			fmt.Fprintf(w, " %s %s;", t, s)
		} else {
			fmt.Fprintf(w, " %s %s in this run;", t, notMeasured)
		}
	}
	fmt.Fprintf(w, " (target: at least 0.5).\n\n")
}

// writeLossMatrix: goodput per cell and transport, with petrel-gnet's
// ratios to quic-go and kcp-go.
func writeLossMatrix(w io.Writer, d runData) {
	names := lossNames[:4]
	for _, c := range lossCells {
		if d.has("BenchmarkLossMatrix/" + c + "/tcp") {
			names = lossNames
			break
		}
	}
	cols := append([]string{"cell"}, names...)
	header(w, append(cols, "petrel-gnet / quic-go", "petrel-gnet / kcp-go")...)
	for _, c := range lossCells {
		p := "BenchmarkLossMatrix/" + c + "/"
		cells := []string{c}
		for _, t := range names {
			cells = append(cells, figure(d, p+t, "MB/s", t != "tcp"))
		}
		cells = append(cells, versus(d, p+"petrel-gnet", p+"quic-go", "MB/s"), versus(d, p+"petrel-gnet", p+"kcp-go", "MB/s"))
		row(w, cells...)
	}
	fmt.Fprintln(w)
}

// writeLatency: round-trip percentiles of 64 B and 1 KB messages.
func writeLatency(w io.Writer, d runData) {
	header(w, "transport", "64 B p50 µs", "64 B p99 µs", "64 B p99.9 µs", "1 KB p50 µs", "1 KB p99 µs", "1 KB p99.9 µs")
	for _, t := range msgNames {
		cells := []string{t}
		for _, sz := range []string{"64B", "1KB"} {
			for _, u := range []string{"p50-us", "p99-us", "p99.9-us"} {
				cells = append(cells, figure(d, "BenchmarkMessages/"+sz+"/"+t, u, true))
			}
		}
		row(w, cells...)
	}
	fmt.Fprintln(w)
}

// writeScaling: goodput against streams on one connection and against
// peers on one node (petrel against quic-go), then idle-session memory.
func writeScaling(w io.Writer, d runData) {
	for _, s := range []struct{ bench, what string }{{"BenchmarkStreams", "streams on one connection"}, {"BenchmarkPeers", "peers on one node, each moving data"}} {
		header(w, s.what, "petrel MB/s", "quic-go MB/s", "petrel / quic-go")
		for _, n := range scaleCounts(s.bench) {
			p := s.bench + "/" + n + "/"
			row(w, n, figure(d, p+"petrel", "MB/s", true), figure(d, p+"quic-go", "MB/s", true), versus(d, p+"petrel", p+"quic-go", "MB/s"))
		}
		fmt.Fprintln(w)
	}
	if s, ok := d.stat("BenchmarkIdleSessions", "B/session"); ok {
		fmt.Fprintf(w, "10,000 idle sessions on one node (core's BenchmarkIdleSessions): %s B per session, %s MiB in all (target: at most 16384 B per session).\n\n",
			s, num(s.Median*10000/(1<<20)))
	} else {
		fmt.Fprintf(w, "10,000 idle sessions on one node (core's BenchmarkIdleSessions): %s in this run.\n\n", notMeasured)
	}
}

func scaleCounts(bench string) []string {
	if bench == "BenchmarkStreams" {
		return []string{"1", "16", "256"}
	}
	return []string{"1", "100", "1000"}
}

// writeAblation: one petrel stream with one mechanism off or changed, each
// against default in the same round.
func writeAblation(w io.Writer, d runData) {
	header(w, "variant", "goodput MB/s", "vs default", "CPU s/GiB", "vs default")
	for _, a := range ablations {
		n, base := "BenchmarkAblation/"+a, "BenchmarkAblation/default"
		row(w, a, figure(d, n, "MB/s", true), versus(d, n, base, "MB/s"), figure(d, n, "cpu-s/GiB", true), versus(d, n, base, "cpu-s/GiB"))
	}
	fmt.Fprintln(w)
}

// writeTargets is a table of verdicts.
func writeTargets(w io.Writer, vs []verdict) {
	header(w, "issue", "claim", "measured", "target", "verdict")
	for _, v := range vs {
		fmt.Fprintln(w, v.row())
	}
	fmt.Fprintln(w)
}
