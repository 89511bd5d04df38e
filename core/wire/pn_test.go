package wire

import (
	"math/rand/v2"
	"testing"
)

func TestPacketNumberLen(t *testing.T) {
	tests := []struct {
		name      string
		pn, acked uint64
		hasAcked  bool
		want      int
	}{
		// RFC 9000 section 17.1: 0xac5c02 with 0xabe8b3 acknowledged has
		// 29,519 packets outstanding and needs 16 bits.
		{"rfc 16 bits", 0xac5c02, 0xabe8b3, true, 2},
		// ... and 0xace8fe with 0xabe8b3 acknowledged needs 24 bits.
		{"rfc 24 bits", 0xace8fe, 0xabe8b3, true, 3},
		{"first packet", 0, 0, false, 1},
		{"127 unacked from none", 126, 0, false, 1},
		{"128 unacked from none", 127, 0, false, 1},
		{"129 unacked from none", 128, 0, false, 2},
		{"128 unacked", 228, 100, true, 1},
		{"129 unacked", 229, 100, true, 2},
		{"2^15 unacked", 1 << 15, 0, true, 2},
		{"2^15+1 unacked", 1<<15 + 1, 0, true, 3},
		{"2^31 unacked", 1 << 31, 0, true, 4},
		{"beyond 4 bytes", 1 << 40, 0, true, 4},
		{"pn not above acked", 5, 5, true, 4},
		{"huge pn none acked", MaxVarint, 0, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PacketNumberLen(tt.pn, tt.acked, tt.hasAcked); got != tt.want {
				t.Fatalf("PacketNumberLen(%#x, %#x, %v) = %d, want %d", tt.pn, tt.acked, tt.hasAcked, got, tt.want)
			}
		})
	}
}

func TestDecodePacketNumber(t *testing.T) {
	tests := []struct {
		name      string
		largest   uint64
		truncated uint64
		pnLen     int
		want      uint64
	}{
		// RFC 9000 Appendix A.3's example.
		{"rfc example", 0xa82f30ea, 0x9b32, 2, 0xa82f9b32},
		{"none received", NoPacketReceived, 0, 1, 0},
		{"none received, pn 200", NoPacketReceived, 200, 1, 200},
		{"next", 41, 42, 1, 42},
		{"wrap forward", 0xff, 0x01, 1, 0x101},
		{"reordered backward", 0x105, 0xfe, 1, 0xfe},
		{"tie at half a window goes up", 0x100, 0x81, 1, 0x181},
		{"just inside the window below", 0x100, 0x82, 1, 0x82},
		{"cannot go below zero", 1, 0xf0, 1, 0xf0},
		{"cannot exceed 2^62-1", MaxVarint - 1, 0x10, 1, MaxVarint - 0xef},
		{"at the top", MaxVarint - 1, 0xff, 1, MaxVarint},
		{"bad pnlen as 4", 0x1_0000_0000, 5, 7, 0x1_0000_0005},
		{"extra truncated bits ignored", 10, 0xff0b, 1, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecodePacketNumber(tt.largest, tt.truncated, tt.pnLen)
			if want := refDecodePacketNumber(tt.largest, tt.truncated, tt.pnLen); got != want {
				t.Fatalf("DecodePacketNumber = %#x, reference %#x", got, want)
			}
			if got != tt.want {
				t.Fatalf("DecodePacketNumber(%#x, %#x, %d) = %#x, want %#x", tt.largest, tt.truncated, tt.pnLen, got, tt.want)
			}
		})
	}
}

// refDecodePacketNumber is the slow reference: of all valid packet
// numbers (0..2^62-1) whose low pnLen bytes are truncated, the one nearest
// to largest+1; on a tie (distance exactly half the window) the larger,
// as RFC 9000 A.3's window (expected-hwin, expected+hwin] chooses.
func refDecodePacketNumber(largest, truncated uint64, pnLen int) uint64 {
	if pnLen < 1 || pnLen > 4 {
		pnLen = 4
	}
	win := uint64(1) << (8 * pnLen)
	truncated &= win - 1
	expected := largest + 1
	dist := func(c uint64) uint64 {
		if c > expected {
			return c - expected
		}
		return expected - c
	}
	best, found := uint64(0), false
	base := expected / win
	for k := base - 2; k != base+3; k++ { // k wraps when base < 2: fine
		if k > (MaxVarint>>(8*pnLen))+1 {
			continue
		}
		c := k*win + truncated
		if c > MaxVarint {
			continue
		}
		if !found || dist(c) < dist(best) || dist(c) == dist(best) && c > best {
			best, found = c, true
		}
	}
	return best
}

// TestPacketNumberRoundTrip checks the two halves of Appendix A together:
// a number sent with PacketNumberLen's length is recovered by a receiver
// whose largest received lies anywhere between the sender's largest
// acknowledged and the number before it.
func TestPacketNumberRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for range 100_000 {
		acked := rng.Uint64N(1 << uint(rng.IntN(62)))
		gap := 1 + rng.Uint64N(1<<uint(rng.IntN(31)))
		pn := acked + gap
		hasAcked := rng.IntN(8) != 0
		n := PacketNumberLen(pn, acked, hasAcked)
		var largest uint64
		if !hasAcked && pn >= 1<<31 {
			continue // more than 2^31 outstanding: beyond 4 bytes
		}
		switch {
		case !hasAcked && rng.IntN(2) == 0:
			largest = NoPacketReceived
		case !hasAcked:
			largest = rng.Uint64N(pn)
		default:
			largest = acked + rng.Uint64N(gap)
		}
		trunc := pn & (1<<(8*n) - 1)
		if got := DecodePacketNumber(largest, trunc, n); got != pn {
			t.Fatalf("pn %#x acked %#x (%v) sent in %d bytes, largest %#x: decoded %#x", pn, acked, hasAcked, n, largest, got)
		}
	}
}
