package secure

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/petrel-transport/petrel/internal/monotime"
)

const testHdrLen = 14

var testAEADs = []struct {
	name string
	alg  AEAD
}{{"aesgcm", AES128GCM}, {"chacha", ChaCha20Poly1305}}

// protectPair returns two Protectors that talk to each other: a's send
// secret is b's receive secret and the other way round.
func protectPair(t testing.TB, alg AEAD, cfg ProtectorConfig) (a, b *Protector) {
	t.Helper()
	var s1, s2 [32]byte
	for i := range s1 {
		s1[i], s2[i] = byte(i), byte(0xa0+i)
	}
	a, err := NewProtector(alg, &s1, &s2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err = NewProtector(alg, &s2, &s1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// testPacket builds a packet with a header whose last bytes are pn and a
// payload of n bytes, sealed by from at time now. It returns the sealed
// packet, the phase and the plaintext.
func testPacket(t testing.TB, from *Protector, pn uint64, n int, now monotime.Time) ([]byte, bool, []byte) {
	t.Helper()
	k, err := from.SealKey(pn, now)
	if err != nil {
		t.Fatalf("SealKey(%d): %v", pn, err)
	}
	pkt := make([]byte, testHdrLen+n, testHdrLen+n+SealOverhead)
	pkt[0] = 0x40
	if k.Phase() {
		pkt[0] |= KeyPhaseBit
	}
	for i := 1; i < testHdrLen; i++ {
		pkt[i] = byte(pn >> (8 * (testHdrLen - 1 - i)))
	}
	for i := testHdrLen; i < len(pkt); i++ {
		pkt[i] = byte(i * 7)
	}
	plain := bytes.Clone(pkt[testHdrLen:])
	return k.Seal(pkt, testHdrLen, pn), k.Phase(), plain
}

// deliver opens pkt at to and checks the payload.
func deliver(t testing.TB, to *Protector, pkt []byte, pn uint64, phase bool, plain []byte, now monotime.Time) {
	t.Helper()
	got, err := to.Open(pkt, testHdrLen, pn, phase, now)
	if err != nil {
		t.Fatalf("Open(pn %d, phase %v): %v", pn, phase, err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("Open(pn %d): payload differs", pn)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, a := range testAEADs {
		t.Run(a.name, func(t *testing.T) {
			c, s := protectPair(t, a.alg, ProtectorConfig{})
			for _, n := range []int{0, 1, 100, 1186} {
				pn := uint64(n)
				pkt, ph, plain := testPacket(t, c, pn, n, 1)
				if len(pkt) != testHdrLen+n+SealOverhead {
					t.Fatalf("sealed length %d", len(pkt))
				}
				deliver(t, s, pkt, pn, ph, plain, 1)
				pkt, ph, plain = testPacket(t, s, pn, n, 1)
				deliver(t, c, pkt, pn, ph, plain, 1)
			}
		})
	}
}

func TestSealGrowsShortCapacity(t *testing.T) {
	c, s := protectPair(t, AES128GCM, ProtectorConfig{})
	k, err := c.SealKey(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	pkt := []byte("header-bytes!!payload")
	pkt = pkt[:len(pkt):len(pkt)]
	sealed := k.Seal(pkt, testHdrLen, 3)
	if string(sealed[:testHdrLen]) != "header-bytes!!" {
		t.Fatal("header lost when growing")
	}
	got, err := s.Open(sealed, testHdrLen, 3, false, 1)
	if err != nil || string(got) != "payload" {
		t.Fatalf("Open: %q, %v", got, err)
	}
}

func TestTamperAnyBitFails(t *testing.T) {
	for _, a := range testAEADs {
		t.Run(a.name, func(t *testing.T) {
			c, s := protectPair(t, a.alg, ProtectorConfig{})
			sealed, ph, _ := testPacket(t, c, 9, 20, 1)
			for bit := range len(sealed) * 8 {
				pkt := bytes.Clone(sealed)
				pkt[bit/8] ^= 1 << (bit % 8)
				if _, err := s.Open(pkt, testHdrLen, 9, ph, 1); !errors.Is(err, ErrOpen) {
					t.Fatalf("bit %d flipped: Open returned %v, want ErrOpen", bit, err)
				}
			}
			if _, err := s.Open(bytes.Clone(sealed), testHdrLen, 10, ph, 1); !errors.Is(err, ErrOpen) {
				t.Fatalf("wrong pn: %v", err)
			}
			if _, err := s.Open(bytes.Clone(sealed), testHdrLen-1, 9, ph, 1); !errors.Is(err, ErrOpen) {
				t.Fatalf("wrong header length: %v", err)
			}
			// Failures changed nothing: the packet still opens.
			if _, err := s.Open(sealed, testHdrLen, 9, ph, 1); err != nil {
				t.Fatalf("after failures: %v", err)
			}
		})
	}
}

func TestOpenRejectsShortPackets(t *testing.T) {
	_, s := protectPair(t, AES128GCM, ProtectorConfig{})
	tests := []struct {
		name   string
		pkt    []byte
		hdrLen int
	}{
		{"empty", nil, 0},
		{"no room for tag", make([]byte, testHdrLen+15), testHdrLen},
		{"header past end", make([]byte, 10), 11},
		{"negative header", make([]byte, 40), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Open(tt.pkt, tt.hdrLen, 1, false, 1); !errors.Is(err, ErrShortPacket) {
				t.Fatalf("got %v, want ErrShortPacket", err)
			}
		})
	}
}

func TestNewProtectorValidates(t *testing.T) {
	var s [32]byte
	tests := []struct {
		name string
		alg  AEAD
		cfg  ProtectorConfig
		want error // nil: a *ProtectorConfigError
	}{
		{"unknown AEAD", 0, ProtectorConfig{}, ErrUnsupportedAEAD},
		{"negative interval", AES128GCM, ProtectorConfig{KeyUpdateInterval: -1}, nil},
		{"negative lifetime", ChaCha20Poly1305, ProtectorConfig{PreviousKeyLifetime: -1}, nil},
		{"packets above limit", AES128GCM, ProtectorConfig{MaxPacketsPerKey: 1<<23 + 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewProtector(tt.alg, &s, &s, tt.cfg)
			var ce *ProtectorConfigError
			switch {
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			default:
				if !errors.As(err, &ce) {
					t.Fatalf("got %v, want a *ProtectorConfigError", err)
				}
			}
		})
	}
	if _, err := NewProtector(AES128GCM, nil, &s, ProtectorConfig{}); err == nil {
		t.Fatal("nil secret accepted")
	}
}

func TestCloseRefusesAndMatchesNetErrClosed(t *testing.T) {
	c, s := protectPair(t, AES128GCM, ProtectorConfig{})
	pkt, ph, _ := testPacket(t, c, 1, 10, 1)
	c.Close()
	c.Close()
	s.Close()
	if _, err := c.SealKey(2, 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SealKey after Close: %v", err)
	}
	if _, err := s.Open(pkt, testHdrLen, 1, ph, 1); !errors.Is(err, ErrProtectorClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := c.UpdateKeys(1); !errors.Is(err, ErrProtectorClosed) {
		t.Fatalf("UpdateKeys after Close: %v", err)
	}
}

func TestPacketNumberRange(t *testing.T) {
	// ChaCha20-Poly1305: its confidentiality limit spans all 2^62 numbers.
	c, s := protectPair(t, ChaCha20Poly1305, ProtectorConfig{})
	if _, err := c.SealKey(1<<62, 1); !errors.Is(err, ErrPacketNumberRange) {
		t.Fatalf("SealKey: got %v", err)
	}
	pkt, ph, _ := testPacket(t, c, 1<<62-1, 10, 1)
	if _, err := s.Open(pkt, testHdrLen, 1<<62, ph, 1); !errors.Is(err, ErrPacketNumberRange) {
		t.Fatalf("Open: got %v", err)
	}
	if _, err := s.Open(pkt, testHdrLen, 1<<62-1, ph, 1); err != nil {
		t.Fatalf("Open of the highest number: %v", err)
	}
}

func TestAEADNames(t *testing.T) {
	for _, tt := range []struct {
		a    AEAD
		want string
	}{{AES128GCM, "AES-128-GCM"}, {ChaCha20Poly1305, "ChaCha20-Poly1305"}, {9, "AEAD(9)"}} {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%d: %q, want %q", tt.a, got, tt.want)
		}
	}
	if d := DefaultAEAD(); d != AES128GCM && d != ChaCha20Poly1305 {
		t.Fatalf("DefaultAEAD = %v", d)
	}
}

func TestSealOpenAllocateNothing(t *testing.T) {
	for _, a := range testAEADs {
		t.Run(a.name, func(t *testing.T) {
			c, s := protectPair(t, a.alg, ProtectorConfig{})
			buf := make([]byte, 1200)
			pn := uint64(0)
			if n := testing.AllocsPerRun(200, func() {
				k, err := c.SealKey(pn, 1)
				if err != nil {
					t.Fatal(err)
				}
				pkt := k.Seal(buf[:1200-SealOverhead], testHdrLen, pn)
				if _, err := s.Open(pkt, testHdrLen, pn, k.Phase(), 1); err != nil {
					t.Fatal(err)
				}
				pn++
			}); n != 0 {
				t.Fatalf("SealKey+Seal+Open allocate %v per packet", n)
			}
		})
	}
}
