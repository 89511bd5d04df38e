package session

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// The directed tests of the split retransmission path (pack.go,
// splitRetxLocked): a range lost in a 1452-byte packet is re-sent, after a
// fallback to 1200 bytes, as two packets; the first piece's Retransmit is
// the compare-and-swap that claims the lost packet, the rest waits in the
// queue. Every event that may come between is run there, by hand, on one
// session whose packets go nowhere: invariants 1 (the FlightSize equals the
// bytes of the packets in flight) and 2 (nothing acknowledged or dropped is
// sent again) must hold after each.

type discard struct{ n int }

func (d *discard) Send(_ netip.AddrPort, pkts [][]byte) error { d.n += len(pkts); return nil }

type splitFixture struct {
	s      *Session
	st     *Stream
	now    monotime.Time
	lostPN uint64
	off    uint64 // the lost range
	n      uint32
}

// newSplitFixture sends one full 1452-byte packet of a stream, declares it
// lost, falls back to 1200 bytes and sends the first piece of its range
// only: the rest is queued, claimed.
func newSplitFixture(t *testing.T) *splitFixture {
	t.Helper()
	now := monotime.Time(time.Second)
	w, err := wheel.New(now, wheel.Config{Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var k1, k2 [32]byte
	k2[0] = 1
	prot, err := secure.NewProtector(secure.AES128GCM, &k1, &k2, secure.ProtectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := &splitFixture{now: now}
	clk := func() monotime.Time { return f.now }
	cfg := Config{Protector: prot, Remote: netip.MustParseAddrPort("10.0.0.2:1"), Out: &discard{}, Wheel: w, Clock: clk,
		DisablePathMTUDiscovery: true, KeepaliveInterval: -1}
	cfg.Local.MaxDatagramSize, cfg.Peer.MaxDatagramSize = 1452, 1452
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f.s = s
	s.mu.Lock()
	s.pingDue = false
	s.setDatagramLocked(1452) // as a search would have confirmed
	s.mu.Unlock()
	st, err := s.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.st = st
	if _, err := st.Write(make([]byte, 1400)); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rec sentRecord
	lo, hi := s.log.bounds()
	for pn := lo; pn < hi; pn++ {
		if r := s.log.recs[pn&uint64(len(s.log.recs)-1)]; r.used && r.st == st {
			rec, f.lostPN = r, pn
		}
	}
	if rec.st == nil || rec.n != 1400 || rec.size <= baseDatagram {
		t.Fatalf("the stream's packet: %+v", rec)
	}
	f.off, f.n = rec.off, rec.n
	// Lost: past the time threshold and the probe timeout.
	f.now = f.now.Add(5 * time.Second)
	s.detectLossLocked(f.now)
	if len(s.retx) != 1 || s.retx[0].lost != f.lostPN {
		t.Fatalf("retransmission queue %+v, want packet %d", s.retx, f.lostPN)
	}
	s.probes = 0 // a plain loss: the window decides
	s.setDatagramLocked(baseDatagram)
	f.packOne(t)
	if len(s.retx) != 1 || !s.retx[0].claimed || s.retx[0].off == f.off {
		t.Fatalf("after the first piece the queue holds %+v, want the claimed rest", s.retx)
	}
	return f
}

// packOne packs exactly one packet (a batch with one free slot) and
// recycles the batch unsent.
func (f *splitFixture) packOne(t *testing.T) {
	t.Helper()
	s := f.s
	b := batches.Get().(*batch)
	b.n = maxBatch - 1
	if _, err := s.packLocked(b, f.now); err != nil {
		t.Fatal(err)
	}
	if b.n == maxBatch {
		putBuf(b.pkts[maxBatch-1].buf)
		b.pkts[maxBatch-1] = outPacket{}
	}
	b.n = 0
	batches.Put(b)
}

// sentSince returns the stream's records of packets above pn.
func (f *splitFixture) sentSince(pn uint64) []sentRecord {
	var out []sentRecord
	lo, hi := f.s.log.bounds()
	for p := max(lo, pn+1); p < hi; p++ {
		if r := f.s.log.recs[p&uint64(len(f.s.log.recs)-1)]; r.used && r.st == f.st {
			out = append(out, r)
		}
	}
	return out
}

// ack applies an ACK of pns (one range each) as the receive path does.
func (f *splitFixture) ack(t *testing.T, pns ...uint64) {
	t.Helper()
	var ranges []wire.AckRange
	for i := len(pns) - 1; i >= 0; i-- {
		ranges = append(ranges, wire.AckRange{Smallest: pns[i], Largest: pns[i]})
	}
	buf, _ := wire.AppendAckFrame(nil, ranges, 0, 1000)
	var p wire.FrameParser
	p.Reset(buf)
	fr, err := p.Next()
	if err != nil {
		t.Fatal(err)
	}
	f.s.rxMu.Lock()
	defer f.s.rxMu.Unlock()
	if err := f.s.onAckLocked(&fr.Ack, f.now); err != nil {
		t.Fatal(err)
	}
}

// books checks invariant 1 under mu: the FlightSize equals the bytes of
// the packets the tracker holds in flight.
func (f *splitFixture) books(t *testing.T, where string) {
	t.Helper()
	ts := f.s.tr.Stats()
	if got := f.s.flight.Load(); got != ts.InFlightBytes {
		t.Errorf("%s: FlightSize %d, tracker in flight %d", where, got, ts.InFlightBytes)
	}
	if ts.SentBytes() != ts.InFlightBytes+ts.ReleasedBytes() {
		t.Errorf("%s: tracker books %+v", where, ts)
	}
}

func TestSplitRetransmission(t *testing.T) {
	t.Run("rest sent after the first piece", func(t *testing.T) {
		f := newSplitFixture(t)
		s := f.s
		s.mu.Lock()
		defer s.mu.Unlock()
		first := f.sentSince(f.lostPN)
		rest := s.retx[0]
		f.packOne(t)
		all := f.sentSince(f.lostPN)
		if len(first) != 1 || len(all) != 2 || len(s.retx) != 0 {
			t.Fatalf("pieces %+v, queue %+v", all, s.retx)
		}
		if a, b := all[0], all[1]; a.off != f.off || a.off+uint64(a.n) != b.off || b.off+uint64(b.n) != f.off+uint64(f.n) || a.fin || b.fin {
			t.Fatalf("pieces do not tile [%d, %d): %+v %+v", f.off, f.off+uint64(f.n), a, b)
		}
		if all[1].off != rest.off || all[1].size > baseDatagram || all[0].size > baseDatagram {
			t.Fatalf("pieces above the base size: %+v", all)
		}
		f.books(t, "after both pieces")
	})
	t.Run("late ACK of the lost packet before the rest", func(t *testing.T) {
		f := newSplitFixture(t)
		f.ack(t, f.lostPN)
		s := f.s
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.retx) != 0 {
			t.Fatalf("the rest is still queued after the lost packet's ACK: %+v", s.retx)
		}
		before := len(f.sentSince(f.lostPN))
		f.packOne(t)
		if got := len(f.sentSince(f.lostPN)); got != before {
			t.Fatalf("acknowledged data sent again: %d records, had %d", got, before)
		}
		f.books(t, "after the late ACK")
	})
	t.Run("ACK of the first piece before the rest", func(t *testing.T) {
		f := newSplitFixture(t)
		s := f.s
		s.mu.Lock()
		firstPN := s.nextPN - 1
		s.mu.Unlock()
		f.ack(t, firstPN)
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.retx) != 1 {
			t.Fatalf("the rest was retired by the first piece's ACK: %+v", s.retx)
		}
		f.packOne(t)
		if len(s.retx) != 0 || len(f.sentSince(firstPN)) != 1 {
			t.Fatalf("the rest was not sent: queue %+v, sent %+v", s.retx, f.sentSince(firstPN))
		}
		f.books(t, "after the rest")
	})
	t.Run("abort before the rest", func(t *testing.T) {
		f := newSplitFixture(t)
		s := f.s
		f.st.Abort(7)
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.retx) != 0 {
			t.Fatalf("the aborted stream's rest is still queued: %+v", s.retx)
		}
		pn := s.nextPN
		f.packOne(t)
		if got := f.sentSince(pn - 1); len(got) != 0 {
			t.Fatalf("dropped data sent again: %+v", got)
		}
		f.books(t, "after the abort")
		if _, mine, _ := s.flightBooksLocked(f.st); mine != 0 {
			t.Fatalf("the aborted stream holds %d bytes in flight", mine)
		}
	})
	t.Run("rest lost again", func(t *testing.T) {
		f := newSplitFixture(t)
		s := f.s
		s.mu.Lock()
		defer s.mu.Unlock()
		f.packOne(t)
		f.now = f.now.Add(10 * time.Second)
		s.detectLossLocked(f.now)
		if len(s.retx) != 2 || s.retx[0].claimed || s.retx[1].claimed {
			t.Fatalf("both pieces lost: queue %+v, want two plain items", s.retx)
		}
		s.probes = 0
		f.packOne(t)
		f.packOne(t)
		if len(s.retx) != 0 {
			t.Fatalf("queue %+v after re-sending both pieces", s.retx)
		}
		f.books(t, "after the pieces' retransmission")
	})
}
