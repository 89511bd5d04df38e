package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/petrel-transport/petrel/core/session"
)

// report prints the demo's final report.
func report(w io.Writer, c demoConfig, clean, lossy *phaseResult) {
	fmt.Fprintf(w, "\n== report\n\n")
	fmt.Fprintf(w, "clean phase: loopback, no impairment\n")
	fmt.Fprintf(w, "  moved      %s in %v: %.1f MB/s goodput (%d messages of %s, every byte checked)\n",
		size(clean.ab.bytes.Load()), clean.took.Round(time.Millisecond),
		float64(clean.ab.bytes.Load())/clean.took.Seconds()/1e6, clean.ab.msgs.Load(), c.cleanMsg.String())
	conn(w, "A", clean.statsA)
	latency(w, "A→B", clean.ab)

	fmt.Fprintf(w, "\nlossy phase: through the relay, %.1f%% loss each way, %v RTT, messages of %s both ways for %v\n",
		100*c.loss, c.rtt, c.lossyMsg.String(), c.duration)
	for _, d := range []struct {
		name string
		dir  *direction
	}{{"A→B", lossy.ab}, {"B→A", lossy.ba}} {
		fmt.Fprintf(w, "  %s        %s, %.2f MB/s goodput, %d messages in order, every byte checked\n",
			d.name, size(d.dir.bytes.Load()), float64(d.dir.bytes.Load())/lossy.took.Seconds()/1e6, d.dir.msgs.Load())
	}
	conn(w, "A", lossy.statsA)
	conn(w, "B", lossy.statsB)
	fmt.Fprintf(w, "  relay      A→B: %d datagrams, %d lost to the model (%.2f%%); B→A: %d, %d lost (%.2f%%)\n",
		lossy.relayFwd.Received, lossy.relayFwd.Link.DroppedLoss, pct(lossy.relayFwd.Link.DroppedLoss, lossy.relayFwd.Received),
		lossy.relayRev.Received, lossy.relayRev.Link.DroppedLoss, pct(lossy.relayRev.Link.DroppedLoss, lossy.relayRev.Received))
	latency(w, "A→B", lossy.ab)
	latency(w, "B→A", lossy.ba)

	if len(lossy.series) > 1 {
		fmt.Fprintf(w, "\n  A's congestion window, flight size and goodput over the lossy phase (one column per %v):\n", c.sampleEvery)
		cw := make([]float64, len(lossy.series))
		fl := make([]float64, len(lossy.series))
		gp := make([]float64, len(lossy.series))
		var maxCw float64
		for i, s := range lossy.series {
			cw[i], fl[i] = float64(s.cwnd), float64(s.inFlight)
			maxCw = max(maxCw, cw[i])
			if i > 0 {
				dt := (s.at - lossy.series[i-1].at).Seconds()
				gp[i] = float64(s.abBytes-lossy.series[i-1].abBytes) / dt / 1e6
			}
		}
		fmt.Fprintf(w, "  cwnd   %s  max %s\n", spark(cw, maxCw), size(int64(maxCw)))
		fmt.Fprintf(w, "  flight %s  (same scale)\n", spark(fl, maxCw))
		maxGp := 0.0
		for _, g := range gp {
			maxGp = max(maxGp, g)
		}
		fmt.Fprintf(w, "  MB/s   %s  max %.2f\n", spark(gp, maxGp), maxGp)
	}
}

func pct(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func conn(w io.Writer, name string, st session.Stats) {
	fmt.Fprintf(w, "  conn %s     %d packets sent, %d retransmitted, %d declared lost, %d probe timeouts; rtt %v (min %v), cwnd %s\n",
		name, st.PacketsSent, st.Retransmits, st.Lost, st.PTOs, st.RTT.Round(10*time.Microsecond), st.MinRTT.Round(10*time.Microsecond), size(int64(st.Cwnd)))
}

func latency(w io.Writer, name string, d *direction) {
	h := d.latency
	if h.TotalCount() == 0 {
		return
	}
	us := func(v int64) time.Duration { return (time.Duration(v) * time.Microsecond).Round(10 * time.Microsecond) }
	fmt.Fprintf(w, "  latency %s message send to receive: p50 %v  p90 %v  p99 %v  max %v (%d messages)\n", name,
		us(h.ValueAtQuantile(50)), us(h.ValueAtQuantile(90)), us(h.ValueAtQuantile(99)), us(h.Max()), h.TotalCount())
}

// spark draws values as a one-line chart of eighth blocks, scaled to top.
func spark(vs []float64, top float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	levels := []rune(blocks)
	if len(vs) > 80 { // at most 80 columns: average groups of samples
		step := (len(vs) + 79) / 80
		out := make([]float64, 0, 80)
		for i := 0; i < len(vs); i += step {
			sum, n := 0.0, 0
			for _, v := range vs[i:min(i+step, len(vs))] {
				sum, n = sum+v, n+1
			}
			out = append(out, sum/float64(n))
		}
		vs = out
	}
	var b strings.Builder
	for _, v := range vs {
		i := 0
		if top > 0 {
			i = int(v / top * float64(len(levels)-1))
		}
		b.WriteRune(levels[min(max(i, 0), len(levels)-1)])
	}
	return b.String()
}
