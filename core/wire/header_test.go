package wire

import (
	"bytes"
	"errors"
	"testing"
)

var testCID = ConnID{0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8}

// shortPacket builds a short-header packet with a sealed payload of n
// bytes (a stand-in: the codec does not look inside).
func shortPacket(h ShortHeader, n int) []byte {
	h.Length = h.PNLen + n
	b := AppendShortHeader(nil, &h)
	for i := range n {
		b = append(b, byte(i+1))
	}
	return b
}

func TestShortHeaderBytes(t *testing.T) {
	tests := []struct {
		name string
		h    ShortHeader
		want []byte
	}{
		{"pn1", ShortHeader{DCID: testCID, PN: 0x1234_5678, PNLen: 1, Length: 17},
			[]byte{0x40, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0x40, 17, 0x78}},
		{"pn2 key phase", ShortHeader{KeyPhase: true, DCID: testCID, PN: 0x1234_5678, PNLen: 2, Length: 300},
			[]byte{0x45, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0x41, 0x2c, 0x56, 0x78}},
		{"pn4", ShortHeader{DCID: testCID, PN: 0x1234_5678, PNLen: 4, Length: MaxPacketSize - 11},
			[]byte{0x43, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0x7f, 0xf4, 0x12, 0x34, 0x56, 0x78}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendShortHeader(nil, &tt.h)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("AppendShortHeader = %x, want %x", got, tt.want)
			}
			if len(got) != ShortHeaderLen(tt.h.PNLen) {
				t.Fatalf("ShortHeaderLen(%d) = %d, wrote %d", tt.h.PNLen, ShortHeaderLen(tt.h.PNLen), len(got))
			}
			pkt := append(got, make([]byte, tt.h.Length-tt.h.PNLen)...)
			h, hdrLen, err := ParseShortHeader(pkt)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.h
			want.PN &= 1<<(8*tt.h.PNLen) - 1
			if h != want || hdrLen != len(got) {
				t.Fatalf("ParseShortHeader = %+v, %d; want %+v, %d", h, hdrLen, want, len(got))
			}
		})
	}
}

func TestShortHeaderMalformed(t *testing.T) {
	good := shortPacket(ShortHeader{DCID: testCID, PN: 7, PNLen: 2}, 20)
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrTruncated},
		{"lone handshake byte", []byte{0xc0}, ErrInvalid},
		{"lone fixed-bit-clear byte", []byte{0x00}, ErrInvalid},
		{"handshake form", with(func(b []byte) []byte { b[0] |= FormHandshake; return b }), ErrInvalid},
		{"fixed bit clear", with(func(b []byte) []byte { b[0] &^= FixedBit; return b }), ErrInvalid},
		{"reserved bit 3", with(func(b []byte) []byte { b[0] |= 0x08; return b }), ErrInvalid},
		{"reserved bit 5", with(func(b []byte) []byte { b[0] |= 0x20; return b }), ErrInvalid},
		{"length below pn+tag", with(func(b []byte) []byte { b[10] = byte(2 + TagLen - 1); return b }), ErrInvalid},
		{"length beyond buffer", with(func(b []byte) []byte { b[10]++; return b }), ErrTruncated},
		{"length 2^62-1", with(func(b []byte) []byte {
			return append(append(b[:9:9], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), b[11:]...)
		}), ErrInvalid},
		{"length beyond MaxPacketSize", with(func(b []byte) []byte {
			b = append(append(b[:9:9], 0x80, 0, 0x40, 0), b[11:]...)
			return append(b, make([]byte, 1<<14)...)
		}), ErrInvalid},
	}
	for i := range good[:len(good)-1] {
		tests = append(tests, struct {
			name string
			b    []byte
			err  error
		}{"truncated", good[:i], ErrTruncated})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseShortHeader(tt.b)
			wantErr(t, err, tt.err)
			_, _, err = SplitPacket(tt.b)
			if !IsHandshake(tt.b) {
				wantErr(t, err, tt.err)
			}
		})
	}
}

func TestPutLength(t *testing.T) {
	pkt := AppendShortHeader(nil, &ShortHeader{DCID: testCID, PN: 1, PNLen: 1})
	tests := []struct {
		name   string
		pkt    []byte
		length int
		err    error
	}{
		{"zero", pkt, 0, nil},
		{"max", pkt, MaxPacketSize - 11, nil},
		{"too large", pkt, MaxPacketSize - 10, ErrTooLarge},
		{"negative", pkt, -1, ErrTooLarge},
		{"short", pkt[:10], 20, ErrTruncated},
		{"handshake", append([]byte{0xc0}, pkt[1:]...), 20, ErrInvalid},
		{"1-byte length", append(append([]byte{}, pkt[:9]...), 20, 1), 20, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(tt.pkt)
			err := PutLength(b, tt.length)
			if tt.err == ErrTooLarge || tt.err == nil {
				if !errors.Is(err, tt.err) && err != tt.err {
					t.Fatalf("PutLength(%d) = %v, want %v", tt.length, err, tt.err)
				}
			} else {
				wantErr(t, err, tt.err)
			}
			if tt.err == nil {
				if v, _, _ := ReadVarint(b[9:]); v != uint64(tt.length) {
					t.Fatalf("Length field holds %d, want %d", v, tt.length)
				}
			}
		})
	}
}

func TestAppendShortHeaderPanics(t *testing.T) {
	tests := []struct {
		name string
		h    ShortHeader
	}{
		{"pnlen 0", ShortHeader{PNLen: 0}},
		{"pnlen 5", ShortHeader{PNLen: 5}},
		{"length negative", ShortHeader{PNLen: 1, Length: -1}},
		{"length too large", ShortHeader{PNLen: 1, Length: MaxPacketSize}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			AppendShortHeader(nil, &tt.h)
		})
	}
}

func TestSplitPacket(t *testing.T) {
	p1 := shortPacket(ShortHeader{DCID: testCID, PN: 1, PNLen: 1}, 30)
	p2 := shortPacket(ShortHeader{DCID: ConnID{9}, PN: 2, PNLen: 4, KeyPhase: true}, 17)
	p3 := shortPacket(ShortHeader{DCID: testCID, PN: 3, PNLen: 2}, 1100)
	hs := []byte{FormHandshake | FixedBit | 1, 1, 2, 3, 4, 5}
	tests := []struct {
		name string
		buf  []byte
		want [][]byte
	}{
		{"one", p1, [][]byte{p1}},
		{"three coalesced", concat(p1, p2, p3), [][]byte{p1, p2, p3}},
		{"handshake whole", hs, [][]byte{hs}},
		{"short then handshake", concat(p2, hs), [][]byte{p2, hs}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]byte
			for rest := tt.buf; len(rest) > 0; {
				var pkt []byte
				var err error
				pkt, rest, err = SplitPacket(rest)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, pkt)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("split into %d packets, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Fatalf("packet %d = %x, want %x", i, got[i], tt.want[i])
				}
			}
		})
	}
	// A packet cut short by the end of the buffer is an error, not a
	// shorter packet.
	_, _, err := SplitPacket(concat(p1, p2[:len(p2)-1]))
	if err != nil {
		t.Fatalf("first packet of a buffer with a cut second one: %v", err)
	}
	_, _, err = SplitPacket(p2[:len(p2)-1])
	wantErr(t, err, ErrTruncated)
}

func TestIsHandshake(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want bool
	}{{nil, false}, {[]byte{0x40}, false}, {[]byte{0x80}, true}, {[]byte{0xc0, 1}, true}} {
		if got := IsHandshake(tt.b); got != tt.want {
			t.Errorf("IsHandshake(%x) = %v", tt.b, got)
		}
	}
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}
