package tracker

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// dropStreamScan is the baseline DropStream that petrel must not be: it
// finds the stream's packets by walking every tracked packet of the
// connection (DESIGN.md, "Lessons"). It releases through the same
// transition as DropStream.
func (t *Tracker) dropStreamScan(stream StreamID) uint64 {
	var total uint64
	if t.pns.live.Load() == 0 {
		return 0
	}
	for k := t.pns.lo.Load(); k <= t.pns.hi.Load(); k++ {
		c := t.pns.pin(k)
		if c == nil {
			continue
		}
		for i := range c.entries {
			e := &c.entries[i]
			s := e.state.Load()
			if word(s).unresolvedAs(k<<chunkBits|uint64(i)) && e.stream() == stream {
				if n, ok := t.transition(c, e, k<<chunkBits|uint64(i), s, phaseDropped, 0); ok {
					total += n
				}
			}
		}
		t.pns.unref(c)
	}
	return total
}

// dropSet is a tracker of its own (no benchmark shares one) with streams
// streams of perStream packets each in flight, laid out round-robin:
// packet pn belongs to stream pn % streams, so a stream's packets lie
// streams packet numbers apart, each in a chunk of its own (streams is
// above the chunk's 1024 slots): the connection whose streams all send at
// once, the layout in which a full scan and the stream index differ most
// in what they touch.
//
// The layout survives any b.N. Streams are dropped in order, and a dropped
// stream is sent again (untimed) at its own place in the next generation
// of packet numbers, generation g holding pn g*P + j*streams + s (P the
// packets in flight): when a pass over every stream ends, generation g+1
// is laid out exactly as g was. (Sending a dropped stream's packets again
// at the end, as one contiguous run, would leave the drops of a long run
// timing contiguous streams and those of a short one round-robin ones.)
type dropSet struct {
	r       *rig
	streams int
	cursor  int // drops done: the next is stream cursor % streams of generation cursor / streams
}

const (
	perStream   = 100
	packetBytes = 1000
)

// newDropSet builds a tracker with packets in flight (a multiple of
// perStream), laid out as dropSet says.
func newDropSet(b *testing.B, packets int) *dropSet {
	fl := new(congestion.FlightSize)
	tr, err := New(fl, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ds := &dropSet{r: &rig{t: tr, fl: fl}, streams: packets / perStream}
	for s := range ds.streams {
		ds.send(b, 0, StreamID(s))
	}
	runtime.GC()
	return ds
}

// send sends stream s's packets of generation gen.
func (ds *dropSet) send(b *testing.B, gen uint64, s StreamID) {
	base := gen * uint64(ds.streams*perStream)
	for j := range uint64(perStream) {
		if err := sendOn(ds.r.fl, ds.r.t, base+j*uint64(ds.streams)+uint64(s), s, packetBytes, ms); err != nil {
			b.Fatal(err)
		}
	}
}

// run times drop on one stream per op, in order, and sends each dropped
// stream again untimed.
func (ds *dropSet) run(b *testing.B, drop func(StreamID) uint64) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, gen := StreamID(ds.cursor%ds.streams), uint64(ds.cursor/ds.streams)
		ds.cursor++
		if n := drop(s); n != perStream*packetBytes {
			b.Fatalf("dropped %d bytes of stream %d, want %d", n, s, perStream*packetBytes)
		}
		b.StopTimer()
		ds.r.t.DropStream(s) // frees the list (the scan leaves it)
		ds.send(b, gen+1, s)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perStream), "ns/packet")
	if got, want := ds.r.t.Stats().InFlightPackets, int64(ds.streams*perStream); got != want {
		b.Fatalf("%d packets in flight, want %d", got, want)
	}
}

// BenchmarkDropStream: drop one stream of 100 packets out of 1,000,000 in
// flight over 10,000 streams (indexed, scan), and out of 10,000,000 over
// 100,000 (indexed-10M): the stream index against the full-scan baseline
// at 1M, and the index at 1M against 10M (its cost must not follow the
// packets in flight). Each line builds its own tracker, laid out alike
// (dropSet), so the three compare like with like.
func BenchmarkDropStream(b *testing.B) {
	b.Run("indexed", func(b *testing.B) {
		ds := newDropSet(b, 1_000_000)
		ds.run(b, ds.r.t.DropStream)
	})
	b.Run("scan", func(b *testing.B) {
		ds := newDropSet(b, 1_000_000)
		ds.run(b, ds.r.t.dropStreamScan)
	})
	b.Run("indexed-10M", func(b *testing.B) {
		ds := newDropSet(b, 10_000_000)
		ds.run(b, ds.r.t.DropStream)
	})
}

// BenchmarkSentAck: register one packet and ACK it.
func BenchmarkSentAck(b *testing.B) {
	fl := new(congestion.FlightSize)
	tr, err := New(fl, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ranges := make([]AckRange, 1)
	var pn uint64
	b.ReportAllocs()
	for b.Loop() {
		if err := sendOn(fl, tr, pn, 3, packetBytes, ms); err != nil {
			b.Fatal(err)
		}
		ranges[0] = rng(pn, pn)
		if res, err := tr.OnAck(ranges, 0, 2*ms); err != nil || res.AckedBytes != packetBytes {
			b.Fatal(res, err)
		}
		pn++
	}
	if fl.Load() != 0 {
		b.Fatalf("flight %d after all acked", fl.Load())
	}
}

// lossCycle is one packet's loss and recovery, in steady state: four
// packets sent, the last three acked, loss detection declares the first
// lost (its bytes leave the flight), Retransmit sends its data under a new
// packet number, and the new packet is acked.
type lossCycle struct {
	tb  testing.TB
	r   *rig
	pn  uint64
	now monotime.Time
	dst []Resend
	ack [1]AckRange
}

func newLossCycle(tb testing.TB) *lossCycle {
	return &lossCycle{tb: tb, r: newRig(tb, Config{}), now: ms, dst: make([]Resend, 0, 4)}
}

func (lc *lossCycle) run() {
	r, base := lc.r, lc.pn
	for i := range uint64(4) {
		if err := sendOn(r.fl, r.t, base+i, 5, packetBytes, lc.now); err != nil {
			lc.tb.Fatal(err)
		}
	}
	lc.ack[0] = rng(base+1, base+3)
	if _, err := r.t.OnAck(lc.ack[:], 0, lc.now+ms); err != nil {
		lc.tb.Fatal(err)
	}
	var res LossResult
	lc.dst, res = r.t.DueForResend(lc.dst[:0], lc.now+ms, rtt10)
	if len(lc.dst) != 1 || lc.dst[0].PN != base || res.LostBytes != packetBytes {
		lc.tb.Fatalf("handed out %+v, %+v", lc.dst, res)
	}
	var rsv congestion.Reservation
	if !r.fl.TryReserveFor(&rsv, packetBytes, 1<<20) {
		lc.tb.Fatal("no window")
	}
	if err := r.t.Retransmit(base, base+4, &rsv, lc.now+ms); err != nil {
		lc.tb.Fatal(err)
	}
	lc.ack[0] = rng(base+4, base+4)
	if res, err := r.t.OnAck(lc.ack[:], 0, lc.now+2*ms); err != nil || res.AckedBytes != packetBytes {
		lc.tb.Fatal(res, err)
	}
	lc.pn += 5
	lc.now += 2 * ms
}

// BenchmarkLossRetransmit: declare a packet lost, retransmit its data under
// a new packet number, ack the new packet (plus the three sends and one ACK
// that make the loss: see lossCycle).
func BenchmarkLossRetransmit(b *testing.B) {
	lc := newLossCycle(b)
	b.ReportAllocs()
	for b.Loop() {
		lc.run()
	}
	if lc.r.fl.Load() != 0 {
		b.Fatalf("flight %d after all resolved", lc.r.fl.Load())
	}
	if st := lc.r.t.Stats(); st.LostPending != 0 || st.Retransmits != st.Lost {
		b.Fatalf("stats %+v", st)
	}
}

// BenchmarkTracker/parallel: writers send from b.RunParallel goroutines
// while one goroutine acks everything sent, as the event loop does.
func BenchmarkTracker(b *testing.B) {
	b.Run("parallel", func(b *testing.B) {
		fl := new(congestion.FlightSize)
		tr, err := New(fl, Config{})
		if err != nil {
			b.Fatal(err)
		}
		var (
			nextPN atomic.Uint64
			stop   = make(chan struct{})
			acked  = make(chan uint64)
			sid    atomic.Uint64
		)
		go func() {
			var total uint64
			ranges := make([]AckRange, 1)
			for {
				select {
				case <-stop:
					acked <- total
					return
				default:
				}
				end := tr.pns.sentEnd.Load()
				if end == 0 || tr.inflightPkts.Load() == 0 {
					runtime.Gosched()
					continue
				}
				// One range over everything sent: the tracker skips the
				// chunks with nothing in flight, and late senders are
				// picked up by the next pass.
				ranges[0] = rng(0, end-1)
				res, err := tr.OnAck(ranges, 0, 2*ms)
				if err != nil {
					panic(err)
				}
				total += uint64(res.NewlyAcked)
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			s := StreamID(sid.Add(1))
			for pb.Next() {
				pn := nextPN.Add(1) - 1
				if err := sendOn(fl, tr, pn, s, packetBytes, ms); err != nil {
					panic(err)
				}
			}
		})
		b.StopTimer()
		close(stop)
		n := <-acked
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		b.ReportMetric(float64(n)/float64(b.N), "acked/sent")
	})
}

func ExampleTracker() {
	fl := new(congestion.FlightSize)
	tr, _ := New(fl, Config{})
	// A writer reserves 1200 bytes of window and sends packet 0 on stream
	// 4: the tracker takes the reservation over. Then 800 bytes, packet 1.
	var res congestion.Reservation
	if fl.TryReserveFor(&res, 1200, 64<<10) {
		_ = tr.OnSent(0, 4, &res, ms)
	}
	if fl.TryReserveFor(&res, 800, 64<<10) {
		_ = tr.OnSent(1, 4, &res, ms)
	}
	// The peer acks packet 1; the stream is then aborted.
	ack, _ := tr.OnAck([]AckRange{{Smallest: 1, Largest: 1}}, 0, 21*ms)
	fmt.Println(ack.AckedBytes, ack.LatestRTT == 20*time.Millisecond)
	fmt.Println(tr.DropStream(4), fl.Load())
	// Output:
	// 800 true
	// 1200 0
}
