package simnet_test

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// A perfect link delivers every datagram once, intact, from the right
// source, exactly Delay after it was sent, in batches of at most 64.
func TestPerfectLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		dst   string // "b" or "c" (IPv6)
	}{
		{"zero config", 0, "b"},
		{"7ms", 7 * time.Millisecond, "b"},
		{"ipv6 3ms", 3 * time.Millisecond, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := newNet(t, 1, netem.Config{Delay: tc.delay})
				src := addrA
				dst := addrB
				if tc.dst == "c" {
					src, dst = netip6A, addrC
				}
				a := listen(t, nw, src, newRecorder())
				rb := newRecorder()
				listen(t, nw, dst, rb)
				const n = 100
				time.Sleep(time.Second) // sends start later than the recorder
				sent := time.Since(rb.start)
				send(t, a, dst, 0, n, 1200, 100)
				if tc.delay > 0 {
					time.Sleep(tc.delay - time.Nanosecond)
					synctest.Wait()
					if got := len(rb.arrivals()); got != 0 {
						t.Fatalf("%d datagrams arrived before the delay", got)
					}
					time.Sleep(time.Nanosecond)
				}
				synctest.Wait()
				got := rb.arrivals()
				if len(got) != n {
					t.Fatalf("%d datagrams arrived, want %d", len(got), n)
				}
				for i, ar := range got {
					if ar.at-sent != tc.delay {
						t.Errorf("datagram %d arrived after %v, want %v", i, ar.at-sent, tc.delay)
					}
					if ar.src != src || ar.local != dst.Addr() {
						t.Errorf("datagram %d from %v to %v, want %v to %v", i, ar.src, ar.local, src, dst.Addr())
					}
					if !bytes.Equal(ar.data, payload(uint32(i), 1200)) {
						t.Errorf("datagram %d differs or is out of order (seq %d)", i, seqOf(ar.data))
					}
				}
				if rb.maxBatch > 64 || rb.batches != 2 || rb.overlap {
					t.Errorf("%d batches of at most %d, overlap %v; want 64+36", rb.batches, rb.maxBatch, rb.overlap)
				}
				if s := nw.Stats(); s.Sent != n || s.Delivered != n {
					t.Errorf("stats %+v", s)
				}
				checkConservation(t, nw)
			})
		})
	}
}

var netip6A = mustAP("[2001:db8::1]:4000")

// SetLink impairs one direction only; the other keeps Default.
func TestSetLinkIsPerDirection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: 2 * time.Millisecond})
		if err := nw.SetLink(addrA, addrB, netem.Config{Delay: 9 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		ra, rb := newRecorder(), newRecorder()
		a := listen(t, nw, addrA, ra)
		b := listen(t, nw, addrB, rb)
		send(t, a, addrB, 0, 1, 10, 1)
		send(t, b, addrA, 0, 1, 10, 1)
		time.Sleep(time.Second)
		if got := ra.arrivals(); len(got) != 1 || got[0].at != 2*time.Millisecond {
			t.Errorf("b -> a (Default): %+v", got)
		}
		if got := rb.arrivals(); len(got) != 1 || got[0].at != 9*time.Millisecond {
			t.Errorf("a -> b (SetLink): %+v", got)
		}
	})
}

// The sender's Buffers are read during WriteBatch only: reusing them at
// once changes nothing that arrives.
func TestWriteBatchCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: time.Millisecond})
		a := listen(t, nw, addrA, newRecorder())
		rb := newRecorder()
		listen(t, nw, addrB, rb)
		buf := []byte("hello")
		if _, err := a.WriteBatch([]batchio.Message{{Buffer: buf, Addr: addrB}}); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXX")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := rb.arrivals(); len(got) != 1 || string(got[0].data) != "hello" {
			t.Fatalf("got %+v", got)
		}
	})
}

// A datagram to an address with no endpoint is dropped and counted; an
// IPv4-mapped destination reaches the IPv4 endpoint.
func TestNoEndpointAndMappedAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{})
		a := listen(t, nw, addrA, newRecorder())
		rb := newRecorder()
		listen(t, nw, addrB, rb)
		send(t, a, mustAP("10.0.0.9:4000"), 0, 3, 10, 3)
		send(t, a, mustAP("[::ffff:10.0.0.2]:4000"), 0, 1, 10, 1)
		synctest.Wait()
		if s := nw.Stats(); s.DroppedNoEndpoint != 3 || s.Delivered != 1 {
			t.Errorf("stats %+v", s)
		}
		if got := rb.arrivals(); len(got) != 1 || got[0].src != addrA {
			t.Errorf("mapped destination: %+v", got)
		}
		checkConservation(t, nw)
	})
}

// A node answering on its delivery goroutine does not deadlock: b echoes
// every datagram to its source from inside HandleBatch, itself included.
func TestWriteFromHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: 5 * time.Millisecond})
		ra := newRecorder()
		a := listen(t, nw, addrA, ra)
		echo := &echoer{}
		b := listen(t, nw, addrB, echo)
		echo.e = b
		send(t, a, addrB, 0, 10, 100, 10)
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		got := ra.arrivals()
		if len(got) != 10 {
			t.Fatalf("%d echoes, want 10", len(got))
		}
		for i, ar := range got {
			if ar.at != 10*time.Millisecond || ar.src != addrB || !bytes.Equal(ar.data, payload(uint32(i), 100)) {
				t.Errorf("echo %d: at %v from %v seq %d", i, ar.at, ar.src, seqOf(ar.data))
			}
		}
	})
}

// echoer sends every datagram back to its source, from the Handler.
type echoer struct{ e *simnet.Endpoint }

func (h *echoer) HandleBatch(_ int, msgs []batchio.Message) {
	if _, err := h.e.WriteBatch(msgs); err != nil {
		panic(err)
	}
}

// Many goroutines writing at once, two per endpoint, lose nothing and
// corrupt nothing (under -race this is the concurrency test of WriteBatch
// and delivery).
func TestConcurrentWriters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: time.Millisecond, Jitter: time.Millisecond, JitterReorders: true})
		rb := newRecorder()
		listen(t, nw, addrB, rb)
		const endpoints, each = 4, 200
		var wg sync.WaitGroup
		for i := range endpoints {
			e := listen(t, nw, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 1), newRecorder())
			for half := range 2 {
				wg.Go(func() {
					for k := range each / 2 {
						seq := uint32(half*each/2 + k)
						if _, err := e.WriteBatch([]batchio.Message{{Buffer: payload(seq, 300), Addr: addrB}}); err != nil {
							t.Error(err)
						}
						time.Sleep(100 * time.Microsecond)
					}
				})
			}
		}
		wg.Wait()
		time.Sleep(time.Second)
		perSource := map[netip.AddrPort]map[uint32]bool{}
		for _, ar := range rb.arrivals() {
			seq := seqOf(ar.data)
			if !bytes.Equal(ar.data, payload(seq, 300)) {
				t.Fatalf("datagram %d from %v corrupted", seq, ar.src)
			}
			if perSource[ar.src] == nil {
				perSource[ar.src] = map[uint32]bool{}
			}
			if perSource[ar.src][seq] {
				t.Fatalf("datagram %d from %v twice", seq, ar.src)
			}
			perSource[ar.src][seq] = true
		}
		if len(perSource) != endpoints {
			t.Fatalf("datagrams from %d sources, want %d", len(perSource), endpoints)
		}
		for src, seqs := range perSource {
			if len(seqs) != each {
				t.Errorf("%v: %d datagrams, want %d", src, len(seqs), each)
			}
		}
		if rb.overlap {
			t.Error("HandleBatch calls overlapped")
		}
		checkConservation(t, nw)
	})
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// BubbleClock is positive, starts at the same value in every bubble and
// advances with virtual time.
func TestBubbleClock(t *testing.T) {
	var starts [2]monotime.Time
	for i := range starts {
		synctest.Test(t, func(t *testing.T) {
			starts[i] = simnet.BubbleClock()
			time.Sleep(3 * time.Second)
			if d := simnet.BubbleClock().Sub(starts[i]); d != 3*time.Second {
				t.Errorf("BubbleClock advanced %v over a 3s sleep", d)
			}
		})
	}
	if starts[0] <= 0 || starts[0] != starts[1] {
		t.Errorf("bubbles start at %v and %v", starts[0], starts[1])
	}
	if simnet.BubbleClock() <= starts[0] {
		t.Errorf("outside a bubble BubbleClock is %v", simnet.BubbleClock())
	}
}
