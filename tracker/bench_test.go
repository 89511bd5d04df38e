package tracker

import (
	"fmt"
	"runtime"
	"sync"
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

// dropSet is a tracker with packets in flight spread round-robin over
// streams of perStream packets each, built once per benchmark process.
type dropSet struct {
	r       *rig
	streams int
	nextPN  uint64
	cursor  int
}

const (
	perStream   = 100
	packetBytes = 1000
)

var (
	dropSets   = map[int]*dropSet{}
	dropSetsMu sync.Mutex
)

func getDropSet(b *testing.B, packets int) *dropSet {
	dropSetsMu.Lock()
	defer dropSetsMu.Unlock()
	if ds := dropSets[packets]; ds != nil {
		return ds
	}
	fl := new(congestion.FlightSize)
	tr, err := New(fl, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ds := &dropSet{r: &rig{t: tr, fl: fl}, streams: packets / perStream}
	for pn := range uint64(packets) {
		if err := sendOn(fl, tr, pn, StreamID(pn%uint64(ds.streams)), packetBytes, ms); err != nil {
			b.Fatal(err)
		}
	}
	ds.nextPN = uint64(packets)
	dropSets[packets] = ds
	runtime.GC()
	return ds
}

// readd sends the stream's packets again (new packet numbers): untimed.
func (ds *dropSet) readd(b *testing.B, s StreamID) {
	for range perStream {
		if err := sendOn(ds.r.fl, ds.r.t, ds.nextPN, s, packetBytes, ms); err != nil {
			b.Fatal(err)
		}
		ds.nextPN++
	}
}

func (ds *dropSet) run(b *testing.B, drop func(StreamID) uint64) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s := StreamID(ds.cursor % ds.streams)
		ds.cursor++
		if n := drop(s); n != perStream*packetBytes {
			b.Fatalf("dropped %d bytes of stream %d, want %d", n, s, perStream*packetBytes)
		}
		b.StopTimer()
		ds.r.t.DropStream(s) // frees the list (the scan leaves it)
		ds.readd(b, s)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perStream), "ns/packet")
	if got, want := ds.r.t.Stats().InFlightPackets, int64(ds.streams*perStream); got != want {
		b.Fatalf("%d packets in flight, want %d", got, want)
	}
}

// BenchmarkDropStream: drop one stream of 100 packets out of 1,000,000 in
// flight over 10,000 streams (and 10,000,000 over 100,000), the stream
// index against the full-scan baseline.
func BenchmarkDropStream(b *testing.B) {
	b.Run("indexed", func(b *testing.B) {
		ds := getDropSet(b, 1_000_000)
		ds.run(b, ds.r.t.DropStream)
	})
	b.Run("scan", func(b *testing.B) {
		ds := getDropSet(b, 1_000_000)
		ds.run(b, ds.r.t.dropStreamScan)
	})
	b.Run("indexed-10M", func(b *testing.B) {
		ds := getDropSet(b, 10_000_000)
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
