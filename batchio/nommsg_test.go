package batchio

import (
	"net/netip"
	"runtime"
	"testing"
)

// TestDisableMmsg sends a mixed burst (GSO-shaped runs) to two receivers
// with DisableMmsg on every Conn and checks that every datagram arrives
// once and intact, and that each one took a system call of its own on
// both sides, with no offload: the knob takes effect, not only validation.
// On Linux the same burst without the knob is sent in fewer calls than
// datagrams, so the count tells the two paths apart.
func TestDisableMmsg(t *testing.T) {
	cfg := Config{DisableMmsg: true}
	rx0, a0 := listen(t, "udp4", "127.0.0.1:0", cfg)
	rx1, a1 := listen(t, "udp4", "127.0.0.1:0", cfg)
	tx, _ := listen(t, "udp4", "127.0.0.1:0", cfg)
	b := newBurst([]netip.AddrPort{a0, a1}, 2)
	if n, err := tx.WriteBatch(b.msgs); n != len(b.msgs) || err != nil {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(b.msgs))
	}
	for i, rx := range []*Conn{rx0, rx1} {
		seen, _, _ := receiveAll(t, rx, rx.uc, len(b.perDst[i]), b.sizeOf)
		for _, seq := range b.perDst[i] {
			if seen[uint32(seq)] != 1 {
				t.Fatalf("receiver %d got datagram %d %d times", i, seq, seen[uint32(seq)])
			}
		}
		rs, rc := rx.Stats(), rx.Capabilities()
		if rs.Received != uint64(len(b.perDst[i])) || rs.RecvCalls != rs.Received || rs.Coalesced != 0 || rc.GRO || rc.MMsg {
			t.Fatalf("receiver %d: %d datagrams in %d calls (%d coalesced), caps %+v; want one call each, no GRO, no mmsg",
				i, rs.Received, rs.RecvCalls, rs.Coalesced, rc)
		}
	}
	ts, tc := tx.Stats(), tx.Capabilities()
	if ts.Sent != uint64(len(b.msgs)) || ts.SendCalls != ts.Sent || ts.GSOSends != 0 || tc.GSO || tc.MMsg || tx.BatchSize() != 1 {
		t.Fatalf("sender: %d datagrams in %d calls (%d GSO), caps %+v, batch %d; want one call each, no GSO, no mmsg, batch 1",
			ts.Sent, ts.SendCalls, ts.GSOSends, tc, tx.BatchSize())
	}

	if runtime.GOOS != "linux" {
		return // one datagram per call is the only path here
	}
	bt, _ := listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
	if n, err := bt.WriteBatch(b.msgs); n != len(b.msgs) || err != nil {
		t.Fatalf("batched WriteBatch = %d, %v", n, err)
	}
	if st := bt.Stats(); st.SendCalls >= st.Sent || !bt.Capabilities().MMsg {
		t.Fatalf("without DisableMmsg: %d datagrams in %d calls, caps %+v; want batches", st.Sent, st.SendCalls, bt.Capabilities())
	}
}

// TestDisableMmsgBatchSize: a batch size above 1 contradicts one datagram
// per call and is refused; 0 and 1 are accepted.
func TestDisableMmsgBatchSize(t *testing.T) {
	for _, tc := range []struct {
		batch int
		ok    bool
	}{{0, true}, {1, true}, {2, false}, {DefaultBatchSize, false}} {
		got, err := Config{DisableMmsg: true, BatchSize: tc.batch}.withDefaults()
		if (err == nil) != tc.ok {
			t.Fatalf("BatchSize %d with DisableMmsg: err %v, want ok=%v", tc.batch, err, tc.ok)
		}
		if err == nil && (got.BatchSize != 1 || !got.DisableGSO || !got.DisableGRO) {
			t.Fatalf("BatchSize %d with DisableMmsg became %+v; want batch 1, GSO and GRO off", tc.batch, got)
		}
	}
}
