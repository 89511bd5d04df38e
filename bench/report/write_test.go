package main

import (
	"strings"
	"testing"
	"time"
)

// TestReportLayout: the sections come in the order of the issue (summary
// first, raw lines last), and the summary answers transport by transport
// with ratios against quic-go from the run's lines.
func TestReportLayout(t *testing.T) {
	var b strings.Builder
	writeReport(&b, report{meta: meta{started: time.Unix(0, 0), cpu: "CPU X", cores: 2, kernel: "Linux 6", goVersion: "go1.26", commit: "abc", known: true, dirty: true},
		data: runData{synthRun(3)}, plotLink: "bench/plots", plots: []plotFile{{Title: "P", File: "p.svg"}, {Title: "Q", Note: "not measured in this run"}}})
	doc := b.String()
	last := -1
	for _, h := range []string{"- Machine: CPU X, 2 logical CPUs", "- Kernel: Linux 6", "- Go: go1.26", "- Commit: abc with uncommitted changes",
		"## Summary: how does petrel compare", "### Targets", "## Loss matrix", "## Latency", "## Scaling", "## Ablations", "## Plots",
		"## Where petrel's time goes", "## Component targets", "## Raw results"} {
		i := strings.Index(doc, h)
		if i < 0 {
			t.Fatalf("no %q in\n%s", h, doc)
		}
		if i < last {
			t.Errorf("%q out of order", h)
		}
		last = i
	}
	for _, want := range []string{
		// synthRun: petrel-gnet 300, 600, 900 MB/s against quic-go 150, 300, 450.
		"petrel-gnet | 600 (300–900) | 2.00× | ",
		// p99 64 B: 200 µs x round against quic-go's 400 x round.
		"| 400 (200–600) | 0.5× | ",
		"udp-blast | 4000 (2000–6000) | 13.3× | 3.00 | 0.075× | — | — | — | —",
		"petrel-gnet 0.075;", // of the AES-GCM ceiling
		"[P](bench/plots/p.svg)", "- Q: not measured in this run",
		"default | 600 (300–900) | 1.00× | 20.0 | 1.00×",
		"chacha20 | 120 (60.0–180) | 0.2× | 100 | 5.00×",
		"1000 | 500 (250–750) | 200 (100–300) | 2.50×", // peers: petrel against quic-go
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestReportNotMeasured: a run of today's benchmarks only (no kcp-go,
// udp-blast, loss matrix, peers, ceiling or ablations) writes the whole
// report, saying "not measured" where the contract's lines are absent.
func TestReportNotMeasured(t *testing.T) {
	var b strings.Builder
	writeReport(&b, report{data: runData{synthRun(1, "kcp-go", "udp-blast", "LossMatrix", "Peers", "Ceiling", "Ablation", "p99.9")}})
	doc := b.String()
	for _, want := range []string{
		"kcp-go | not measured | — | not measured | — | not measured | — | not measured | —",
		"udp-blast | not measured | — | not measured | — | — | — | — | —",
		"loss1%-rtt20ms | not measured | not measured | not measured | not measured | — | —",
		"1000 | not measured | not measured | —",
		"default | not measured | — | not measured | —",
		"The AES-128-GCM ceiling (BenchmarkCeiling/aes-128-gcm) was not measured in this run.",
		"Profiles: not measured in this run (none of BenchmarkTransfer/petrel-gnet, ",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
