package main

// The plots of BENCHMARKS.md, drawn with gonum.org/v1/plot into SVG files
// (its vg/vgsvg backend, fonts not embedded: the files stay a few tens of
// KB and render with the viewer's sans-serif). Each plot is of medians
// over the rounds, the same figures the tables print; a plot with no data
// in the run is not written, and the report says so.

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// plotFile is one plot the report links, or says is missing.
type plotFile struct {
	Title string
	File  string // base name under the plot directory; "" if not drawn
	Note  string // why it was not drawn
}

// series is one line of a plot.
type series struct {
	Name string
	XY   plotter.XYs
}

// writePlots draws every plot of the run into dir. latencyDir holds the
// latency CSVs of the profiling pass ("" if there was none).
func writePlots(dir string, d runData, latencyDir string) ([]plotFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// A plot this run cannot draw must not be left from an earlier one.
	old, _ := filepath.Glob(filepath.Join(dir, "*.svg"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, err
		}
	}
	var out []plotFile
	add := func(title, file string, draw func() (*plot.Plot, bool, error)) error {
		p, ok, err := draw()
		if err != nil {
			return fmt.Errorf("plot %s: %w", file, err)
		}
		if !ok {
			out = append(out, plotFile{Title: title, Note: notMeasured + " in this run"})
			return nil
		}
		if err := saveSVG(p, filepath.Join(dir, file)); err != nil {
			return err
		}
		out = append(out, plotFile{Title: title, File: file})
		return nil
	}
	for _, rtt := range []string{"20ms", "100ms"} {
		title := "Goodput against loss, " + rtt + " RTT"
		if err := add(title, "goodput-vs-loss-rtt"+rtt+".svg", func() (*plot.Plot, bool, error) {
			return linePlot(axes{title: title, x: "random loss (%)", y: "goodput (MB/s)", logX: true}, lossSeries(d, rtt))
		}); err != nil {
			return nil, err
		}
	}
	for _, sz := range []string{"64B", "1KB"} {
		title := "Round-trip latency CDF, " + sz + " messages"
		if err := add(title, "latency-cdf-"+sz+".svg", func() (*plot.Plot, bool, error) {
			ss, err := cdfSeries(latencyDir, sz)
			if err != nil {
				return nil, false, err
			}
			return linePlot(axes{title: title, x: "round trip (µs)", y: "percentile", logX: true, cdf: true}, ss)
		}); err != nil {
			return nil, err
		}
	}
	if err := add("CPU time per GiB moved, one stream on loopback", "cpu-per-gib.svg", func() (*plot.Plot, bool, error) {
		return cpuBars(d)
	}); err != nil {
		return nil, err
	}
	for _, s := range []struct{ bench, file, x string }{
		{"BenchmarkStreams", "goodput-vs-streams.svg", "streams on one connection"},
		{"BenchmarkPeers", "goodput-vs-peers.svg", "peers on one node"},
	} {
		title := "Goodput against " + s.x
		if err := add(title, s.file, func() (*plot.Plot, bool, error) {
			return linePlot(axes{title: title, x: s.x, y: "aggregate goodput (MB/s)", logX: true}, scaleSeries(d, s.bench))
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lossSeries is, per transport, goodput against the loss rate of the loss
// matrix's cells at rtt.
func lossSeries(d runData, rtt string) []series {
	var out []series
	for _, t := range lossNames {
		var s series
		s.Name = t
		for _, c := range lossCells {
			loss, ok := strings.CutPrefix(c, "loss")
			if !ok || !strings.HasSuffix(c, "-rtt"+rtt) {
				continue
			}
			pct, err := strconv.ParseFloat(strings.TrimSuffix(loss, "%-rtt"+rtt), 64)
			if err != nil {
				continue
			}
			if v, ok := d.stat("BenchmarkLossMatrix/"+c+"/"+t, "MB/s"); ok {
				s.XY = append(s.XY, plotter.XY{X: pct, Y: v.Median})
			}
		}
		out = append(out, s)
	}
	return out
}

// scaleSeries is petrel's and quic-go's goodput against the count.
func scaleSeries(d runData, bench string) []series {
	var out []series
	for _, t := range []string{"petrel", "quic-go"} {
		s := series{Name: t}
		for _, n := range scaleCounts(bench) {
			x, _ := strconv.ParseFloat(n, 64)
			if v, ok := d.stat(bench+"/"+n+"/"+t, "MB/s"); ok {
				s.XY = append(s.XY, plotter.XY{X: x, Y: v.Median})
			}
		}
		out = append(out, s)
	}
	return out
}

// cdfSeries reads the latency CSVs of size's messages, one per transport.
func cdfSeries(dir, size string) ([]series, error) {
	if dir == "" {
		return nil, nil
	}
	var out []series
	for _, t := range msgNames {
		f, err := os.Open(filepath.Join(dir, profileName("BenchmarkMessages/"+size+"/"+t)+".csv"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		xy, err := readCDF(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name(), err)
		}
		out = append(out, series{Name: t, XY: xy})
	}
	return out, nil
}

// readCDF parses a latency CSV (header "percentile,micros") into points
// with the latency on X and the percentile on Y.
func readCDF(r io.Reader) (plotter.XYs, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || len(recs[0]) != 2 || recs[0][0] != "percentile" || recs[0][1] != "micros" {
		return nil, fmt.Errorf("header %v, want percentile,micros", recs[:min(1, len(recs))])
	}
	var xy plotter.XYs
	for _, rec := range recs[1:] {
		p, err1 := strconv.ParseFloat(rec[0], 64)
		us, err2 := strconv.ParseFloat(rec[1], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad row %v", rec)
		}
		xy = append(xy, plotter.XY{X: us, Y: p})
	}
	return xy, nil
}

// axes are how linePlot draws a plot.
type axes struct {
	title, x, y string
	logX        bool
	cdf         bool // a distribution: lines without points, the percentile axis by nines, the legend at the top left
}

// linePlot draws one line per series; a series with no point is left out,
// and with no series left there is no plot (false). Goodput starts at 0
// with room above the highest line for the legend; a log X axis is ticked
// at the data's X values (the loss rates, the stream counts).
func linePlot(a axes, ss []series) (*plot.Plot, bool, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = a.title, a.x, a.y
	p.Legend.Top, p.Legend.Left = true, a.cdf // a CDF's top left is empty
	var args []any
	xs := map[float64]bool{}
	maxY := 0.0
	for _, s := range ss {
		xy := usable(s.XY, a.logX, false)
		if len(xy) == 0 {
			continue
		}
		for _, pt := range xy {
			xs[pt.X], maxY = true, math.Max(maxY, pt.Y)
		}
		args = append(args, s.Name, xy)
	}
	if len(args) == 0 {
		return nil, false, nil
	}
	if a.logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		if !a.cdf {
			var ticks []plot.Tick
			for x := range xs {
				ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
			}
			p.X.Tick.Marker = plot.ConstantTicks(ticks)
		}
	}
	var err error
	if a.cdf {
		// The tail is what a latency CDF is for: a linear percentile axis
		// squeezes p99 to p99.99 into its top percent; this one gives
		// each nine the room of the first 90 percent.
		p.Y.Scale, p.Y.Min, p.Y.Max = ninesScale{}, 0, ninesTop
		var ticks []plot.Tick
		for _, v := range []float64{0, 50, 90, 99, 99.9, 99.99} {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
		err = plotutil.AddLines(p, args...)
	} else {
		p.Y.Min, p.Y.Max = 0, maxY*1.35 // the legend's room
		err = plotutil.AddLinePoints(p, args...)
	}
	if err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// ninesTop is the top of a CDF's percentile axis: rows above it (the
// latency CSVs go to 100) are drawn at it.
const ninesTop = 99.99

// ninesScale places percentile p at -log10(1 - p/100): 0 at 0, 1 at 90, 2
// at 99, 3 at 99.9, so each nine of the tail gets the same height.
type ninesScale struct{}

func nines(p float64) float64 { return -math.Log10(1 - math.Min(math.Max(p, 0), ninesTop)/100) }

// Normalize implements plot.Normalizer.
func (ninesScale) Normalize(min, max, x float64) float64 {
	return (nines(x) - nines(min)) / (nines(max) - nines(min))
}

// usable drops points a plot cannot draw: NaN or infinite, or not positive
// on a log axis (gonum's LogScale panics on them). The latency axis of a
// CDF is log-scaled, so a 0 µs row (below HdrHistogram's resolution) goes.
func usable(xy plotter.XYs, logX, logY bool) plotter.XYs {
	var out plotter.XYs
	for _, p := range xy {
		bad := math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) || (logX && p.X <= 0) || (logY && p.Y <= 0)
		if !bad {
			out = append(out, p)
		}
	}
	return out
}

// cpuBars is a bar per transport of BenchmarkTransfer's CPU s/GiB.
func cpuBars(d runData) (*plot.Plot, bool, error) {
	var vals plotter.Values
	var names []string
	for _, t := range transferNames {
		if s, ok := d.stat("BenchmarkTransfer/"+t, "cpu-s/GiB"); ok && !math.IsNaN(s.Median) && !math.IsInf(s.Median, 0) {
			vals, names = append(vals, s.Median), append(names, t)
		}
	}
	if len(vals) == 0 {
		return nil, false, nil
	}
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = "CPU time per GiB moved (both ends, getrusage)", "CPU s/GiB"
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return nil, false, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(names...)
	return p, true, nil
}

// saveSVG draws p on a 16 x 10 cm SVG canvas and writes it to path.
func saveSVG(p *plot.Plot, path string) error {
	c := vgsvg.NewWith(vgsvg.UseWH(16*vg.Centimeter, 10*vg.Centimeter), vgsvg.EmbedFonts(false))
	p.Draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
