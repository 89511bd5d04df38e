package batchio

import (
	"net/netip"
	"testing"
)

// TestLocalAddress sends from a socket bound to a wildcard address with a
// chosen source per message (loopback owns all of 127.0.0.0/8), to a
// receiver bound to a wildcard address, and checks the receiver sees each
// datagram from the chosen source and to the address it was sent to. GSO
// runs must break where the source changes.
func TestLocalAddress(t *testing.T) {
	tests := []struct {
		name, network, bind string
	}{
		{"ipv4", "udp4", "0.0.0.0:0"},
		{"dualstack", "udp", "[::]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx, ar := listen(t, tt.network, tt.bind, Config{})
			tx, at := listen(t, tt.network, tt.bind, Config{})
			srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
			dsts := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.5")}
			const perGroup = 10
			var msgs []Message
			for g := range 4 {
				for range perGroup {
					seq := uint32(len(msgs))
					msgs = append(msgs, Message{
						Buffer: payload(make([]byte, 1000), seq),
						Addr:   netip.AddrPortFrom(dsts[g/2], ar.Port()),
						Local:  srcs[g%2],
					})
				}
			}
			runs := planRuns(msgs, true, maxGSOSegments, maxGSOBytes, len(msgs), nil)
			if len(runs) != 4 {
				t.Fatalf("plan %v: want one run per (source, destination) group", runs)
			}
			if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			seen, from, to := receiveAll(t, rx, rx.uc, len(msgs), func(uint32) int { return 1000 })
			for seq := range msgs {
				if seen[uint32(seq)] != 1 {
					t.Fatalf("datagram %d arrived %d times", seq, seen[uint32(seq)])
				}
			}
			for _, src := range srcs {
				if got := from[netip.AddrPortFrom(src, at.Port())]; got != 2*perGroup {
					t.Fatalf("%d datagrams from %s, want %d (all sources: %v)", got, src, 2*perGroup, from)
				}
			}
			for _, dst := range dsts {
				if to[dst] != 2*perGroup {
					t.Fatalf("%d datagrams to %s, want %d (all: %v)", to[dst], dst, 2*perGroup, to)
				}
			}
		})
	}
}
