package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCDFs writes the latency CSVs of the bench contract for sizes and
// transports: header percentile,micros, 101 rows over 0..100.
func writeCDFs(t *testing.T, dir string, sizes, transports []string) {
	t.Helper()
	for _, sz := range sizes {
		for i, tr := range transports {
			var b strings.Builder
			b.WriteString("percentile,micros\n")
			for p := 0; p <= 100; p++ {
				fmt.Fprintf(&b, "%d,%g\n", p, float64(20*(i+1))*(1+float64(p*p)/100))
			}
			if err := os.WriteFile(filepath.Join(dir, profileName("BenchmarkMessages/"+sz+"/"+tr)+".csv"), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPlots: with the whole contract measured, every plot is an SVG file
// (an XML document), non-empty, linked by its base name.
func TestPlots(t *testing.T) {
	dir, lat := t.TempDir(), t.TempDir()
	writeCDFs(t, lat, []string{"64B", "1KB"}, msgNames)
	ps, err := writePlots(dir, runData{synthRun(3)}, lat)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"goodput-vs-loss-rtt20ms.svg", "goodput-vs-loss-rtt100ms.svg", "latency-cdf-64B.svg", "latency-cdf-1KB.svg", "cpu-per-gib.svg", "goodput-vs-streams.svg", "goodput-vs-peers.svg"}
	if len(ps) != len(want) {
		t.Fatalf("got %d plots, want %d: %+v", len(ps), len(want), ps)
	}
	for i, p := range ps {
		if p.File != want[i] {
			t.Errorf("plot %d: %q (%s), want %s", i, p.File, p.Note, want[i])
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, p.File))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 1000 || !bytes.HasPrefix(b, []byte("<?xml")) || !bytes.Contains(b, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(b), []byte("</svg>")) {
			t.Errorf("%s: %d bytes, not a whole SVG document: %.80q", p.File, len(b), b)
		}
	}
	// The legend names each transport of the loss plot.
	b, _ := os.ReadFile(filepath.Join(dir, want[0]))
	for _, tr := range lossNames[:4] {
		if !bytes.Contains(b, []byte(">"+tr+"<")) {
			t.Errorf("%s: no legend entry %s", want[0], tr)
		}
	}
}

// TestPlotsMissing: a plot whose data is absent from the run is not drawn
// (and an old file of it is removed), the others are; nothing fails.
func TestPlotsMissing(t *testing.T) {
	dir, lat := t.TempDir(), t.TempDir()
	writeCDFs(t, lat, []string{"64B"}, []string{"quic-go"})
	stale := filepath.Join(dir, "goodput-vs-peers.svg")
	if err := os.WriteFile(stale, []byte("<?xml old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := writePlots(dir, runData{synthRun(1, "Peers", "LossMatrix")}, lat)
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[string]bool{}
	for _, p := range ps {
		if p.File != "" {
			drawn[p.Title] = true
		} else if !strings.Contains(p.Note, notMeasured) {
			t.Errorf("%s: note %q", p.Title, p.Note)
		}
	}
	for title, want := range map[string]bool{
		"Goodput against loss, 20ms RTT":                 false,
		"Round-trip latency CDF, 64B messages":           true,
		"Round-trip latency CDF, 1KB messages":           false,
		"CPU time per GiB moved, one stream on loopback": true,
		"Goodput against streams on one connection":      true,
		"Goodput against peers on one node":              false,
	} {
		if drawn[title] != want {
			t.Errorf("%s: drawn %v, want %v", title, drawn[title], want)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale peers plot is still there: %v", err)
	}
	if _, err := writePlots(t.TempDir(), runData{}, ""); err != nil {
		t.Errorf("an empty run: %v", err)
	}
}

func TestReadCDF(t *testing.T) {
	xy, err := readCDF(strings.NewReader("percentile,micros\n0,10\n50,20.5\n100,99\n"))
	if err != nil || len(xy) != 3 || xy[1].X != 20.5 || xy[1].Y != 50 {
		t.Fatalf("got %v %v", xy, err)
	}
	for _, bad := range []string{"", "p,us\n1,2\n", "percentile,micros\nx,1\n"} {
		if _, err := readCDF(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestNinesScale: each nine of the percentile axis gets the same height,
// and rows above its top (100) are drawn at the top.
func TestNinesScale(t *testing.T) {
	var s ninesScale
	for _, tt := range []struct{ p, want float64 }{{0, 0}, {90, 0.25}, {99, 0.5}, {99.9, 0.75}, {99.99, 1}, {100, 1}} {
		if got := s.Normalize(0, ninesTop, tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Normalize(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}
