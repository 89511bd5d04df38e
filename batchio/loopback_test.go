package batchio

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
)

// burst is a write batch built to exercise GSO run boundaries: long runs of
// equal size (past the 64-segment limit), shorter tails, size changes and
// destination changes, repeated rounds times.
type burst struct {
	msgs   []Message
	sizes  []int   // by sequence number
	dest   []int   // receiver index by sequence number
	perDst [][]int // sequence numbers per receiver
}

func newBurst(dsts []netip.AddrPort, rounds int) *burst {
	// (receiver, count, size) groups of one round.
	groups := [][3]int{
		{0, 70, 1200}, // 64 + 6: the segment limit ends a run
		{1, 3, 1200},  // new destination
		{0, 5, 500},   // new destination and size
		{0, 1, 1200},  // longer: new run
		{0, 1, 300},   // shorter tail joins that run
		{1, 2, 1000},
		{1, 1, 4},
		{0, 4, 1400},
		{0, 1, 1399},
	}
	b := &burst{perDst: make([][]int, len(dsts))}
	for range rounds {
		for _, g := range groups {
			for range g[1] {
				seq := len(b.msgs)
				b.sizes = append(b.sizes, g[2])
				b.dest = append(b.dest, g[0])
				b.perDst[g[0]] = append(b.perDst[g[0]], seq)
				b.msgs = append(b.msgs, Message{Buffer: payload(make([]byte, g[2]), uint32(seq)), Addr: dsts[g[0]]})
			}
		}
	}
	return b
}

func (b *burst) sizeOf(seq uint32) int {
	if int(seq) >= len(b.sizes) {
		return -1
	}
	return b.sizes[seq]
}

// TestLoopbackBurst sends mixed bursts to two receivers over loopback, with
// every combination of family and offload, and checks that each datagram
// arrives once, intact, at the right receiver, from the sender's address.
func TestLoopbackBurst(t *testing.T) {
	families := []struct {
		name          string
		network, bind string
		dst           string // the IP receivers are reached at
		src           string // the IP the sender is seen from
	}{
		{"ipv4", "udp4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1"},
		{"ipv6", "udp6", "[::1]:0", "::1", "::1"},
		{"dualstack", "udp", "[::]:0", "127.0.0.1", "127.0.0.1"},
	}
	for _, fam := range families {
		for _, gso := range []bool{false, true} {
			for _, gro := range []bool{false, true} {
				name := fam.name + "/gso=" + onOff(gso) + "/gro=" + onOff(gro)
				t.Run(name, func(t *testing.T) {
					runBurst(t, fam.network, fam.bind, fam.dst, fam.src, Config{DisableGSO: !gso, DisableGRO: !gro})
				})
			}
		}
	}
	// Small batches: WriteBatch must chunk by runs and by datagrams, and
	// ReadBatch must hand out GRO receives over several calls.
	for _, size := range []int{1, 3} {
		t.Run("ipv4/batch="+string(rune('0'+size)), func(t *testing.T) {
			runBurst(t, "udp4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1", Config{BatchSize: size})
		})
	}
}

// runBurst sends a mixed burst from one Conn to two and checks every
// datagram arrives once, intact, at the right receiver, from the sender.
func runBurst(t *testing.T, network, bind, dstIP, srcIP string, cfg Config) {
	rx0, a0 := listen(t, network, bind, cfg)
	rx1, a1 := listen(t, network, bind, cfg)
	tx, at := listen(t, network, bind, cfg)
	dst := netip.MustParseAddr(dstIP)
	dsts := []netip.AddrPort{netip.AddrPortFrom(dst, a0.Port()), netip.AddrPortFrom(dst, a1.Port())}
	wantSrc := netip.AddrPortFrom(netip.MustParseAddr(srcIP), at.Port())

	b := newBurst(dsts, 2)
	n, err := tx.WriteBatch(b.msgs)
	if err != nil || n != len(b.msgs) {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(b.msgs))
	}
	for i, rx := range []*Conn{rx0, rx1} {
		seen, from, to := receiveAll(t, rx, rx.uc, len(b.perDst[i]), b.sizeOf)
		for _, seq := range b.perDst[i] {
			if seen[uint32(seq)] != 1 {
				t.Fatalf("receiver %d got datagram %d %d times", i, seq, seen[uint32(seq)])
			}
		}
		if len(from) != 1 || from[wantSrc] != len(b.perDst[i]) {
			t.Fatalf("receiver %d saw sources %v, want only %v", i, from, wantSrc)
		}
		wantDst := dst
		if runtime.GOOS != "linux" {
			wantDst = netip.Addr{} // the fallback does not report it
		}
		if len(to) != 1 || to[wantDst] != len(b.perDst[i]) {
			t.Fatalf("receiver %d saw destinations %v, want only %v", i, to, wantDst)
		}
	}
	checkOffloads(t, tx, rx0, !cfg.DisableGSO, !cfg.DisableGRO, len(b.msgs))
}

// checkOffloads asserts that the offloads asked for were used where the
// kernel offers them, and not used otherwise.
func checkOffloads(t *testing.T, tx, rx *Conn, gso, gro bool, sent int) {
	t.Helper()
	tcap, rcap := tx.Capabilities(), rx.Capabilities()
	ts, rs := tx.Stats(), rx.Stats()
	if ts.Sent != uint64(sent) {
		t.Errorf("Stats.Sent = %d, want %d", ts.Sent, sent)
	}
	if !gso && (tcap.GSO || ts.GSOSends != 0) {
		t.Errorf("GSO disabled but used: caps %+v, %d GSO sends", tcap, ts.GSOSends)
	}
	if !gro && (rcap.GRO || rs.Coalesced != 0) {
		t.Errorf("GRO disabled but used: caps %+v, %d coalesced receives", rcap, rs.Coalesced)
	}
	if tcap.GSO && ts.GSOSends == 0 {
		t.Errorf("GSO on but no GSO send")
	}
	// Loopback hands a GSO send to a GRO socket whole (net/ipv4/udp.c
	// udp_unexpected_gso), so the split path must have run.
	if tcap.GSO && rcap.GRO && rs.Coalesced == 0 {
		t.Errorf("GSO and GRO on but no coalesced receive")
	}
	if rs.Truncated != 0 {
		t.Errorf("%d truncated receives", rs.Truncated)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// TestCloseWakesReader checks that Close wakes a ReadBatch parked in the
// poller, that it returns ErrClosed (which matches net.ErrClosed too), and
// that Close is idempotent.
func TestCloseWakesReader(t *testing.T) {
	c, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	done := make(chan error)
	go func() {
		_, err := c.ReadBatch(make([]Message, 4))
		done <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errorsIs(err, ErrClosed) || !errorsIs(err, net.ErrClosed) {
		t.Fatalf("parked ReadBatch returned %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.WriteBatch([]Message{{Buffer: []byte("x"), Addr: addrA}}); !isClosed(err) {
		t.Fatalf("WriteBatch after Close: %v", err)
	}
	if _, err := c.ReadBatch(make([]Message, 1)); !isClosed(err) {
		t.Fatalf("ReadBatch after Close: %v", err)
	}
}

func isClosed(err error) bool {
	return err != nil && (err == ErrClosed || errorsIs(err, net.ErrClosed))
}
