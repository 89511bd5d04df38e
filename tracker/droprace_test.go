package tracker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDropStreamRacesSends: writers send on two streams while droppers
// drop those same streams and an acker resolves recent packets (so full
// lists hold resolved packet numbers and get compacted). A DropStream that
// overlaps an OnSent of its stream may or may not take that packet, but it
// must never lose it: once everything has stopped, one more DropStream per
// stream must take every packet still in flight. A packet published after
// its list was walked and detached, or skipped by a walk because a
// compaction shifted the list under it, would stay in flight with no list
// to find it. Each round catches such a bug only sometimes, so the test
// runs several rounds (bounded in count and in time).
func TestDropStreamRacesSends(t *testing.T) {
	const (
		rounds   = 8
		deadline = 3 * time.Second
	)
	start := time.Now()
	for round := 0; round < rounds && time.Since(start) < deadline; round++ {
		dropRaceRound(t, start.Add(deadline))
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

func dropRaceRound(t *testing.T, deadline time.Time) {
	const (
		writers   = 3
		perWriter = 4000
		streams   = 2
	)
	r := newRig(t, Config{})
	var (
		nextPN  atomic.Uint64
		stream  [writers * perWriter]StreamID
		stop    atomic.Bool
		wg, bgw sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				pn := nextPN.Add(1) - 1
				s := StreamID((w + i) % streams)
				stream[pn] = s
				if err := sendOn(r.fl, r.t, pn, s, uint32(10), ms); err != nil {
					t.Errorf("OnSent(%d): %v", pn, err)
					return
				}
			}
		})
	}
	for d := range 2 {
		bgw.Go(func() {
			for i := 0; !stop.Load() && i < 1_000_000 && time.Now().Before(deadline); i++ {
				r.t.DropStream(StreamID((d + i) % streams))
			}
		})
	}
	bgw.Go(func() {
		for i := 0; !stop.Load() && i < 1_000_000 && time.Now().Before(deadline); i++ {
			if end := r.t.pns.sentEnd.Load(); end > 12 {
				if _, err := r.t.OnAck([]AckRange{rng(end-12, end-4)}, 0, 2*ms); err != nil {
					t.Errorf("OnAck: %v", err)
					return
				}
			}
		}
	})
	wg.Wait()
	stop.Store(true)
	bgw.Wait()
	if t.Failed() {
		return
	}
	for s := range StreamID(streams) {
		r.t.DropStream(s)
	}
	var orphans []uint64
	for pn := range nextPN.Load() {
		if r.t.InFlight(pn) {
			orphans = append(orphans, pn)
		}
	}
	if len(orphans) > 0 {
		t.Errorf("%d stream packets still in flight after dropping every stream (e.g. pn %d of stream %d)", len(orphans), orphans[0], stream[orphans[0]])
		return
	}
	if st := r.t.Stats(); st.Streams != 0 || st.InFlightBytes != 0 {
		t.Errorf("after dropping every stream: %+v", st)
	}
	r.checkBooks(t)
}
