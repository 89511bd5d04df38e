package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
)

// report prints the demo's final report.
func report(w io.Writer, c demoConfig, clean, lossy *phaseResult) {
	fmt.Fprintf(w, "\n== report\n\n")
	fmt.Fprintf(w, "clean phase: loopback, no impairment, one stream\n")
	fmt.Fprintf(w, "  moved      %s in %v: %.1f MB/s goodput (every byte checked)\n",
		size(clean.ab.total()), clean.took.Round(time.Millisecond), mbps(clean.ab.total(), clean.took))
	conn(w, "A", clean.statsA)

	fmt.Fprintf(w, "\nlossy phase: through the relay, %.1f%% loss each way, %v RTT, for %v: %d streams each way and messages of %s both ways\n",
		100*c.loss, c.rtt, c.duration, c.streams, c.lossyMsg.String())
	for _, d := range []struct {
		name string
		dir  *direction
	}{{"A→B", lossy.ab}, {"B→A", lossy.ba}} {
		fmt.Fprintf(w, "  %s        %s: %s on streams, %s in %d messages in order; %.2f MB/s goodput, every byte checked\n",
			d.name, size(d.dir.total()), size(d.dir.streamBytes.Load()), size(d.dir.bytes.Load()), d.dir.msgs.Load(), mbps(d.dir.total(), lossy.took))
	}
	conn(w, "A", lossy.statsA)
	conn(w, "B", lossy.statsB)
	fmt.Fprintf(w, "  relay      A→B: %d datagrams, %d lost to the model (%.2f%%); B→A: %d, %d lost (%.2f%%)\n",
		lossy.relayFwd.Received, lossy.relayFwd.Link.DroppedLoss, pct(lossy.relayFwd.Link.DroppedLoss, lossy.relayFwd.Received),
		lossy.relayRev.Received, lossy.relayRev.Link.DroppedLoss, pct(lossy.relayRev.Link.DroppedLoss, lossy.relayRev.Received))
	latency(w, "A→B", lossy.ab)
	latency(w, "B→A", lossy.ba)
	abortReport(w, lossy.abort)

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
		if a := lossy.abort; a != nil && a.at > 0 {
			fmt.Fprintf(w, "  abort  %s\n", markAt(lossy.series, a.at))
		}
	}
}

// abortReport prints what the abort in the lossy phase showed.
func abortReport(w io.Writer, a *abortResult) {
	if a == nil || a.at == 0 {
		fmt.Fprintf(w, "  abort      none: the phase ended before its middle\n")
		return
	}
	parked := "its writer was not waiting in Write"
	if a.parked > 0 {
		parked = fmt.Sprintf("its writer waiting in Write for %v", a.parked.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  abort      at %v A aborted its stream %d to B, %s; A's flight was %s of a %s window\n",
		a.at.Round(time.Millisecond), a.streamID, parked, size(int64(a.flightBefore)), size(int64(a.cwnd)))
	var ae *core.StreamAbortError
	seen := fmt.Sprintf("B's reader of it got: %v", a.seen)
	switch {
	case errors.As(a.seen, &ae) && ae.Remote:
		seen = fmt.Sprintf("B's reader saw the peer's abort (code %#x)", ae.Code)
	case a.seen == nil:
		seen = "B's reader saw no end before the phase's"
	}
	// Abort sends what the freed window lets leave before it returns, so
	// the flight measured after it already holds the other streams'
	// packets that took the room.
	fmt.Fprintf(w, "             the abort released %s of its flight at once, and the other streams' packets took the room before Abort returned (A's flight %s before, %s after); %s\n",
		size(int64(a.released)), size(int64(a.flightBefore)), size(int64(a.flightAfter)), seen)
	if !a.done {
		return
	}
	refill := fmt.Sprintf("A's flight was back at %s %v after the abort (RTT %v)",
		size(int64(a.flightBefore)), a.refill.Round(100*time.Microsecond), a.rtt.Round(100*time.Microsecond))
	if a.refill < 0 {
		refill = fmt.Sprintf("A's flight was not back at %s within %v (RTT %v)", size(int64(a.flightBefore)), a.window, a.rtt.Round(100*time.Microsecond))
	}
	fmt.Fprintf(w, "             the other A→B streams went on: %.2f MB/s in the %v before the abort, %.2f MB/s in the %v after; %s\n",
		mbps(a.otherBefore, a.before), a.before.Round(time.Millisecond), mbps(a.otherAfter, a.window), a.window, refill)
}

// markAt is a line with an arrow under the chart's column of time at.
func markAt(series []sample, at time.Duration) string {
	i := 0
	for i < len(series)-1 && series[i].at < at {
		i++
	}
	return strings.Repeat(" ", i/sparkGroup(len(series))) + "↑"
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

// sparkGroup is how many of n samples a column of spark shows: at most 80
// columns.
func sparkGroup(n int) int { return max(1, (n+79)/80) }

// spark draws values as a one-line chart of eighth blocks, scaled to top.
func spark(vs []float64, top float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	levels := []rune(blocks)
	if step := sparkGroup(len(vs)); step > 1 { // average groups of samples
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
