package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestVarint(t *testing.T) {
	tests := []struct {
		name string
		v    uint64
		enc  []byte
	}{
		// The examples of RFC 9000 Appendix A.1, plus each size's bounds.
		{"zero", 0, []byte{0x00}},
		{"rfc 1-byte", 37, []byte{0x25}},
		{"1-byte max", 63, []byte{0x3f}},
		{"2-byte min", 64, []byte{0x40, 0x40}},
		{"rfc 2-byte", 15293, []byte{0x7b, 0xbd}},
		{"2-byte max", 16383, []byte{0x7f, 0xff}},
		{"4-byte min", 16384, []byte{0x80, 0x00, 0x40, 0x00}},
		{"rfc 4-byte", 494878333, []byte{0x9d, 0x7f, 0x3e, 0x7d}},
		{"4-byte max", 1<<30 - 1, []byte{0xbf, 0xff, 0xff, 0xff}},
		{"8-byte min", 1 << 30, []byte{0xc0, 0, 0, 0, 0x40, 0, 0, 0}},
		{"rfc 8-byte", 151288809941952652, []byte{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}},
		{"max", MaxVarint, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendVarint([]byte{0xee}, tt.v)
			if !bytes.Equal(got[1:], tt.enc) || got[0] != 0xee {
				t.Fatalf("AppendVarint(%d) = %x, want %x", tt.v, got[1:], tt.enc)
			}
			if n := VarintLen(tt.v); n != len(tt.enc) {
				t.Fatalf("VarintLen(%d) = %d, want %d", tt.v, n, len(tt.enc))
			}
			v, n, err := ReadVarint(append(tt.enc, 0xaa))
			if err != nil || v != tt.v || n != len(tt.enc) {
				t.Fatalf("ReadVarint = %d, %d, %v; want %d, %d", v, n, err, tt.v, len(tt.enc))
			}
			for i := range tt.enc {
				if _, _, err := ReadVarint(tt.enc[:i]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("ReadVarint of %d of %d bytes: err %v, want ErrTruncated", i, len(tt.enc), err)
				}
			}
		})
	}
}

func TestVarintNonMinimal(t *testing.T) {
	// RFC 9000 section 16 lets any length encode any value it can hold;
	// Appendix A.1's example: 0x4025 is 37 in two bytes.
	for _, enc := range [][]byte{{0x40, 0x25}, {0x80, 0, 0, 0x25}, {0xc0, 0, 0, 0, 0, 0, 0, 0x25}} {
		v, n, err := ReadVarint(enc)
		if err != nil || v != 37 || n != len(enc) {
			t.Errorf("ReadVarint(%x) = %d, %d, %v; want 37", enc, v, n, err)
		}
	}
}

func TestVarintTooLarge(t *testing.T) {
	if n := VarintLen(MaxVarint + 1); n != 0 {
		t.Errorf("VarintLen(2^62) = %d, want 0", n)
	}
	defer func() {
		if recover() == nil {
			t.Error("AppendVarint(2^62) did not panic")
		}
	}()
	AppendVarint(nil, MaxVarint+1)
}
