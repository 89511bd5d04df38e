package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
	"github.com/petrel-transport/petrel/internal/relay"
)

// sample is one point of the lossy phase's time series (A's side).
type sample struct {
	at       time.Duration
	cwnd     uint64
	inFlight uint64
	rtt      time.Duration
	abBytes  int64
}

// phaseResult is what the report prints of a phase.
type phaseResult struct {
	took           time.Duration
	ab, ba         *direction
	statsA, statsB session.Stats
	series         []sample
	relayFwd       relay.Stats
	relayRev       relay.Stats
	abort          *abortResult // the lossy phase's
}

// lossyPhase runs, through the impairing relay and for c.duration, streams
// from A to B and from B to A and messages both ways, aborts one of A's
// streams midway (abortMidway) and samples A's window.
func lossyPhase(ctx context.Context, prog *progress, a, b *core.Node, c demoConfig) (*phaseResult, error) {
	link := netem.Config{Loss: c.loss, Delay: c.rtt / 2, Seed: c.seed}
	back := link
	back.Seed = c.seed + 1
	r, err := relay.New(relay.Config{Target: b.Addr(), Forward: link, Reverse: back})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ca, cb, err := pair(ctx, a, b, r.Addr())
	if err != nil {
		return nil, err
	}
	defer ca.Close()
	defer cb.Close()

	pctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	msgPattern := newPattern(int(c.lossyMsg), 2)
	res := &phaseResult{ab: newDirection(), ba: newDirection()}
	start := time.Now()
	bar := prog.phase("lossy", c.duration.Milliseconds(), false, func() string {
		st := ca.Stats()
		el := time.Since(start)
		return fmt.Sprintf("A→B %5.2f MB/s  B→A %5.2f MB/s  rtt %-7v cwnd %-9s retx %d",
			mbps(res.ab.total(), el), mbps(res.ba.total(), el),
			st.RTT.Round(100*time.Microsecond), size(int64(st.Cwnd)), st.Retransmits)
	})
	abFlows := newFlowSet(c.streams, newPattern(patternPeriod, 3), res.ab)
	baFlows := newFlowSet(c.streams, newPattern(patternPeriod, 4), res.ba)
	var wg sync.WaitGroup
	var sendErrs [2]error
	wg.Go(func() { sendErrs[0] = sendAll(pctx, ca, msgPattern, -1) })
	wg.Go(func() { sendErrs[1] = sendAll(pctx, cb, msgPattern, -1) })
	wg.Go(func() { res.ab.receive(pctx, cb, msgPattern, -1) })
	wg.Go(func() { res.ba.receive(pctx, ca, msgPattern, -1) })
	abFlows.start(pctx, &wg, ca, cb)
	baFlows.start(pctx, &wg, cb, ca)
	wg.Go(func() { res.abort = abortMidway(pctx, start, c.duration, ca, abFlows) })

	tick := time.NewTicker(c.sampleEvery)
	for done := false; !done; {
		select {
		case <-tick.C:
			el := time.Since(start)
			st := ca.Stats()
			res.series = append(res.series, sample{at: el, cwnd: st.Cwnd, inFlight: st.InFlight, rtt: st.RTT, abBytes: res.ab.total()})
			bar.set(min(el.Milliseconds(), c.duration.Milliseconds()))
		case <-pctx.Done():
			done = true
		}
	}
	tick.Stop()
	res.took = time.Since(start)
	wg.Wait()
	if r := abFlows.reader(0); r != nil && res.abort != nil {
		res.abort.seen = r.ended
	}
	bar.set(c.duration.Milliseconds())
	bar.finish()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, err := range append(sendErrs[:], res.ab.err, res.ba.err, abFlows.err(), baFlows.err()) {
		if err != nil {
			return nil, err
		}
	}
	res.statsA, res.statsB = ca.Stats(), cb.Stats()
	res.relayFwd, res.relayRev = r.Stats()
	return res, nil
}
