package simnet_test

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/netem"
)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:4000")
	addrB = netip.MustParseAddrPort("10.0.0.2:4000")
	addrC = netip.MustParseAddrPort("[2001:db8::3]:4000")
)

// arrival is one datagram as a Handler saw it.
type arrival struct {
	at    time.Duration // since the recorder's start (virtual in a bubble)
	src   netip.AddrPort
	local netip.Addr
	data  []byte // a copy: the Buffer is valid only during the call
}

// recorder is a Handler that keeps what it receives.
type recorder struct {
	start time.Time

	mu       sync.Mutex
	got      []arrival
	batches  int
	maxBatch int
	inCall   bool // detects overlapping calls
	overlap  bool
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) HandleBatch(loop int, msgs []batchio.Message) {
	r.mu.Lock()
	if r.inCall || loop != 0 {
		r.overlap = true
	}
	r.inCall = true
	r.batches++
	r.maxBatch = max(r.maxBatch, len(msgs))
	at := time.Since(r.start)
	for _, m := range msgs {
		r.got = append(r.got, arrival{at: at, src: m.Addr, local: m.Local, data: append([]byte(nil), m.Buffer...)})
	}
	r.mu.Unlock()
	r.mu.Lock()
	r.inCall = false
	r.mu.Unlock()
}

// arrivals returns a copy of what arrived so far.
func (r *recorder) arrivals() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]arrival(nil), r.got...)
}

// payload returns datagram seq of size bytes: the sequence number, then
// bytes derived from all of its bits, so a receiver checks every byte and
// a bit flipped in the sequence number makes every byte differ.
func payload(seq uint32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, seq)
	x := seq ^ seq>>16
	x *= 0x45d9f3b // a 32-bit integer hash finalizer
	x ^= x >> 16
	for i := 4; i < size; i++ {
		b[i] = byte(x>>(8*(i%4))) + byte(i)
	}
	return b
}

// seqOf returns the sequence number payload wrote.
func seqOf(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// newNet returns a Network on BubbleClock closed when the test ends.
func newNet(t *testing.T, seed uint64, def netem.Config) *simnet.Network {
	t.Helper()
	nw, err := simnet.New(simnet.Config{Seed: seed, Default: def})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
	return nw
}

// listen opens an endpoint or fails the test.
func listen(t *testing.T, nw *simnet.Network, ap netip.AddrPort, h simnet.Handler) *simnet.Endpoint {
	t.Helper()
	e, err := nw.Listen(ap, h)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// send writes n datagrams of size bytes, numbered from first, from e to
// dst in batches of batch.
func send(t *testing.T, e *simnet.Endpoint, dst netip.AddrPort, first, n, size, batch int) {
	t.Helper()
	msgs := make([]batchio.Message, 0, batch)
	flush := func() {
		if k, err := e.WriteBatch(msgs); err != nil || k != len(msgs) {
			t.Fatalf("WriteBatch: %d of %d, %v", k, len(msgs), err)
		}
		msgs = msgs[:0]
	}
	for i := range n {
		msgs = append(msgs, batchio.Message{Buffer: payload(uint32(first+i), size), Addr: dst})
		if len(msgs) == batch {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
}

// checkConservation checks that every datagram sent is accounted for, at
// quiescence.
func checkConservation(t *testing.T, nw *simnet.Network) {
	t.Helper()
	s := nw.Stats()
	drops := s.DroppedLoss + s.DroppedQueue + s.DroppedPartition + s.DroppedNoEndpoint + s.DroppedClosed
	if s.Sent+s.Duplicated != s.Delivered+drops {
		t.Errorf("conservation: sent %d + duplicated %d != delivered %d + dropped %d (%+v)", s.Sent, s.Duplicated, s.Delivered, drops, s)
	}
}

// mustAPOrZero parses s, or returns the zero AddrPort for "".
func mustAPOrZero(s string) netip.AddrPort {
	if s == "" {
		return netip.AddrPort{}
	}
	return netip.MustParseAddrPort(s)
}
