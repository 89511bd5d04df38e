package tracker

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// TestStress runs every operation at once on one tracker: writers sending
// on many streams, one goroutine acking random ranges, one declaring
// losses and retransmitting their data under new packet numbers (or
// abandoning it), two dropping streams, one abandoning. Bounded in count and in
// time. At quiescence the FlightSize must equal the bytes of the packets
// still in flight, every byte sent must have been released exactly once
// (the books balance, no underflow), and once everything is resolved the
// flight is empty.
func TestStress(t *testing.T) {
	const (
		writers   = 4
		perWriter = 6000
		streams   = 300
		total     = writers * perWriter
		deadline  = 4 * time.Second
	)
	r := newRig(t, Config{MaxRetransmits: 3})
	var (
		nextPN   atomic.Uint64
		clock    atomic.Int64 // fake time, advanced by the resender
		sentSum  atomic.Uint64
		sizes    [2 * total]uint32 // by pn, written before OnSent or Retransmit
		handed   [2 * total]atomic.Uint32
		retx     atomic.Uint64
		released [4]atomic.Uint64
		done     = make(chan struct{})
		wg, bg   sync.WaitGroup
	)
	const relAck, relDrop, relAbandon, relResend = 0, 1, 2, 3
	clock.Store(int64(ms))
	start := time.Now()
	expired := func() bool { return time.Since(start) > deadline }

	for w := range writers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for range perWriter {
				pn := nextPN.Add(1) - 1
				size := uint32(1 + rnd.IntN(1200))
				s := StreamID(rnd.IntN(streams))
				if rnd.IntN(16) == 0 {
					s = Control
				}
				sizes[pn] = size
				if err := sendOn(r.fl, r.t, pn, s, size, monotime.Time(clock.Load())); err != nil {
					t.Errorf("OnSent(%d): %v", pn, err)
					return
				}
				sentSum.Add(uint64(size))
			}
		})
	}
	loop := func(seed uint64, body func(rnd *rand.Rand)) {
		bg.Go(func() {
			rnd := rand.New(rand.NewPCG(seed, 2))
			for i := 0; i < 1_000_000 && !expired(); i++ {
				select {
				case <-done:
					return
				default:
				}
				body(rnd)
			}
		})
	}
	// Acker: random ranges at or below the sending frontier.
	ranges := make([]AckRange, 0, 3)
	loop(10, func(rnd *rand.Rand) {
		end := r.t.pns.sentEnd.Load()
		if end == 0 {
			return
		}
		ranges = ranges[:0]
		for range 1 + rnd.IntN(3) {
			hi := rnd.Uint64N(end)
			ranges = append(ranges, rng(hi-min(hi, rnd.Uint64N(48)), hi))
		}
		res, err := r.t.OnAck(ranges, 0, monotime.Time(clock.Load()))
		if err != nil {
			t.Errorf("OnAck(%v): %v", ranges, err)
		}
		released[relAck].Add(res.AckedBytes)
	})
	// Resender: loss detection, then retransmit what was handed out under
	// new packet numbers (or, sometimes, give up on it).
	var dst []Resend
	loop(11, func(rnd *rand.Rand) {
		now := monotime.Time(clock.Add(int64(ms)))
		var res LossResult
		dst, res = r.t.DueForResend(dst[:0], now, rtt10)
		released[relResend].Add(res.LostBytes + res.ProbeBytes + res.AbandonedBytes)
		for _, d := range dst {
			if handed[d.PN].Add(1) != 1 {
				t.Errorf("packet %d handed out twice", d.PN)
			}
			pn := nextPN.Add(1) - 1
			if rnd.IntN(8) == 0 || pn >= 2*total { // the resend path gives up
				released[relAbandon].Add(r.t.Abandon(d.PN))
				continue
			}
			size := uint32(1 + rnd.IntN(1200))
			sizes[pn] = size
			if err := r.retransmit(d.PN, pn, size, now); err == nil {
				sentSum.Add(uint64(size))
				retx.Add(1)
			} else if !errors.Is(err, ErrAcked) && !errors.Is(err, ErrDropped) && !errors.Is(err, ErrAbandoned) && !errors.Is(err, ErrNotLost) {
				// ErrNotLost: resolved, and its chunk already freed.
				t.Errorf("Retransmit(%d, %d): %v", d.PN, pn, err)
			}
		}
	})
	// Droppers: two, so one stream is sometimes dropped twice at once.
	for seed := uint64(12); seed < 14; seed++ {
		loop(seed, func(rnd *rand.Rand) {
			released[relDrop].Add(r.t.DropStream(StreamID(rnd.IntN(streams))))
		})
	}
	// Abandoner.
	loop(14, func(rnd *rand.Rand) {
		if end := nextPN.Load(); end > 0 {
			released[relAbandon].Add(r.t.Abandon(rnd.Uint64N(end)))
		}
	})

	wg.Wait()
	close(done)
	bg.Wait()
	if t.Failed() {
		return
	}

	// Quiescence: the books balance.
	var inFlight uint64
	for pn := range min(nextPN.Load(), 2*total) {
		if r.t.InFlight(pn) {
			inFlight += uint64(sizes[pn])
		}
	}
	st := r.t.Stats()
	var rel uint64
	for i := range released {
		rel += released[i].Load()
	}
	if got := r.fl.Load(); got != inFlight || st.InFlightBytes != inFlight {
		t.Fatalf("FlightSize %d, tracker %d, packets in flight %d bytes", got, st.InFlightBytes, inFlight)
	}
	if sent := sentSum.Load(); rel+inFlight != sent || st.ReleasedBytes() != rel {
		t.Fatalf("sent %d, released %d (stats %d) + in flight %d", sent, rel, st.ReleasedBytes(), inFlight)
	}
	if st.AckedBytes != released[relAck].Load() || st.DroppedBytes != released[relDrop].Load() {
		t.Fatalf("per-path books: stats %+v", st)
	}
	if st.Retransmits != retx.Load() {
		t.Fatalf("%d retransmits counted, %d succeeded", st.Retransmits, retx.Load())
	}
	t.Logf("acked %d lost %d probed %d dropped %d abandoned %d retransmits %d spurious %d in flight %d, %v",
		st.Acked, st.Lost, st.Probed, st.Dropped, st.Abandoned, st.Retransmits, st.Spurious, st.InFlightPackets, time.Since(start))

	// Resolve everything: drop every stream, ack the rest.
	for s := range StreamID(streams) {
		rel += r.t.DropStream(s)
	}
	res := r.ack(t, monotime.Time(clock.Load()), rng(0, r.t.pns.sentEnd.Load()-1))
	rel += res.AckedBytes
	st = r.t.Stats()
	// Nothing stays: no chunk, no stream list.
	if r.fl.Load() != 0 || st.InFlightPackets != 0 || st.LostPending != 0 || st.Chunks != 0 || st.Streams != 0 {
		t.Fatalf("after resolving all: flight %d, %+v", r.fl.Load(), st)
	}
	if rel != sentSum.Load() || r.fl.Stats().Underflows != 0 {
		t.Fatalf("released %d of %d sent; underflows %d", rel, sentSum.Load(), r.fl.Stats().Underflows)
	}
}
