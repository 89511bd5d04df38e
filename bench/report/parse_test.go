package main

import (
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name, line string
		ok         bool
		bench      string
		iters      int64
		metrics    map[string]float64
	}{
		{"plain", "BenchmarkSentAck-2   	 1000000	  45.5 ns/op	 0 B/op	 0 allocs/op", true, "BenchmarkSentAck", 1000000,
			map[string]float64{"ns/op": 45.5, "B/op": 0, "allocs/op": 0}},
		{"sub with dash in name", "BenchmarkDropStream/indexed-10M-2  100  9000 ns/op", true, "BenchmarkDropStream/indexed-10M", 100,
			map[string]float64{"ns/op": 9000}},
		{"custom metric", "BenchmarkLoopback/gso-2 1 1.0e+09 ns/op 1.1e+06 pkts/s 0.002 loss", true, "BenchmarkLoopback/gso", 1,
			map[string]float64{"ns/op": 1e9, "pkts/s": 1.1e6, "loss": 0.002}},
		{"throughput and a unit with a dash", "BenchmarkTransfer/impaired/quic-go-2 2 1143057599 ns/op 0.92 MB/s 66.03 cpu-s/GiB 152112 B/op 3881 allocs/op", true, "BenchmarkTransfer/impaired/quic-go", 2,
			map[string]float64{"ns/op": 1143057599, "MB/s": 0.92, "cpu-s/GiB": 66.03, "B/op": 152112, "allocs/op": 3881}},
		{"not a result", "goos: linux", false, "", 0, nil},
		{"header only", "BenchmarkX", false, "", 0, nil},
		{"bad number", "BenchmarkX-2 10 abc ns/op", false, "", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := parseLine("p", tt.line)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if r.Name != tt.bench || r.Iters != tt.iters {
				t.Fatalf("got %q %d, want %q %d", r.Name, r.Iters, tt.bench, tt.iters)
			}
			for k, v := range tt.metrics {
				if r.Metrics[k] != v {
					t.Errorf("metric %s = %v, want %v", k, r.Metrics[k], v)
				}
			}
			if len(r.Metrics) != len(tt.metrics) {
				t.Errorf("got %d metrics, want %d", len(r.Metrics), len(tt.metrics))
			}
		})
	}
}

func TestParseSkipsNoise(t *testing.T) {
	out := "goos: linux\nBenchmarkA-2 10 5 ns/op\nPASS\nBenchmarkB/x-2 20 7 ns/op\nok  p 1s\n"
	rs := parse("p", strings.NewReader(out))
	if len(rs) != 2 || rs[0].Name != "BenchmarkA" || rs[1].Name != "BenchmarkB/x" {
		t.Fatalf("got %+v", rs)
	}
}

// TestParseMicros: the contract's "p99-µs" and the older "p99-us" are one
// metric.
func TestParseMicros(t *testing.T) {
	r, ok := parseLine("p", "BenchmarkMessages/64B/kcp-go-2 100 5 ns/op 90.3 p50-µs 393 p99-us 800 p99.9-µs")
	if !ok || r.Metrics["p50-us"] != 90.3 || r.Metrics["p99-us"] != 393 || r.Metrics["p99.9-us"] != 800 {
		t.Fatalf("got %+v", r.Metrics)
	}
}

// TestProfileName is the bench contract's rule: every byte outside
// [A-Za-z0-9._%=-] becomes '_' (a two-byte µ gives two).
func TestProfileName(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkTransfer/petrel-gnet":                  "BenchmarkTransfer_petrel-gnet",
		"BenchmarkLossMatrix/loss1%-rtt20ms/petrel-gnet": "BenchmarkLossMatrix_loss1%-rtt20ms_petrel-gnet",
		"BenchmarkLossMatrix/loss0.1%-rtt100ms/quic-go":  "BenchmarkLossMatrix_loss0.1%-rtt100ms_quic-go",
		"BenchmarkX/a=b c:d#µ":                           "BenchmarkX_a=b_c_d___",
		"p50-µs":                                         "p50-__s",
	} {
		if got := profileName(in); got != want {
			t.Errorf("profileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParseSplitLine: a benchmark that logs has its name and its figures
// on separate lines, its log lines between them.
func TestParseSplitLine(t *testing.T) {
	out := "BenchmarkTransfer/quic-go-2         \n    transfer_test.go:99: relay carried 10 datagrams\n" +
		"      12\t  95000000 ns/op\t 176.6 MB/s\t 40.1 cpu-s/GiB\nBenchmarkNext-2 5 3 ns/op\n"
	rs := parse("p", strings.NewReader(out))
	if len(rs) != 2 || rs[0].Name != "BenchmarkTransfer/quic-go" || rs[0].Iters != 12 || rs[0].Metrics["MB/s"] != 176.6 || rs[1].Name != "BenchmarkNext" {
		t.Fatalf("got %+v", rs)
	}
}

func TestKeepBenchLines(t *testing.T) {
	out := "goos: linux\ncpu: AMD EPYC\nBenchmarkA-2 \n    a_test.go:1: log\n      12\t  95000000 ns/op\t 1 MB/s\nPASS\nok  p 1s\n--- FAIL: BenchmarkB\n"
	want := "cpu: AMD EPYC\nBenchmarkA-2 \n      12\t  95000000 ns/op\t 1 MB/s\n--- FAIL: BenchmarkB\n"
	if got := keepBenchLines(out); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
