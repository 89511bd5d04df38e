package netem

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"testing"
	"time"
)

// datagram returns a payload that names its sequence number and fills the
// rest with a pattern.
func datagram(seq, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 13)
	}
	binary.BigEndian.PutUint32(b, uint32(seq))
	return b
}

// bitDiff counts the bits in which a and b differ (same length).
func bitDiff(a, b []byte) int {
	d := 0
	for i := range a {
		d += bits.OnesCount8(a[i] ^ b[i])
	}
	return d
}

func TestPipe(t *testing.T) {
	const size, count = 64, 500
	tests := []struct {
		name    string
		cfg     Config
		copies  int // per datagram
		flipped int // bits flipped per copy
	}{
		{"clean", Config{Delay: time.Millisecond, Jitter: time.Millisecond / 2}, 1, 0},
		{"every copy corrupted", Config{Corrupt: 1}, 1, 1},
		{"every datagram duplicated", Config{Duplicate: 1, Delay: time.Millisecond}, 2, 0},
		{"duplicated and corrupted", Config{Duplicate: 1, Corrupt: 1, Rate: 1_000_000}, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPipe(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Every configuration here keeps order, so the k-th copy to
			// arrive is of datagram k/copies (the payload's own number
			// may be the corrupted bit).
			arrived := 0
			var got [][]byte
			receive := func(now int64) {
				got = p.Receive(at(now), got[:0])
				for _, b := range got {
					seq := arrived / tt.copies
					arrived++
					if d := bitDiff(b, datagram(seq, size)); d != tt.flipped {
						t.Fatalf("copy %d of datagram %d arrived with %d bits flipped, want %d", arrived, seq, d, tt.flipped)
					}
					b[5] ^= 0xff // scribble: must not show in any other copy
					p.Release(b)
				}
			}
			now := int64(0)
			for seq := range count {
				now += int64(100 * time.Microsecond)
				d := datagram(seq, size)
				if c := p.Send(at(now), d); c != tt.copies {
					t.Fatalf("Send returned %d copies, want %d", c, tt.copies)
				}
				if !bytes.Equal(d, datagram(seq, size)) {
					t.Fatal("Send modified the caller's bytes")
				}
				receive(now)
			}
			// Drive the rest by the timer, as simnet or the relay would.
			for {
				next, ok := p.Next()
				if !ok {
					break
				}
				receive(int64(next))
			}
			if arrived != count*tt.copies {
				t.Fatalf("%d copies arrived, want %d", arrived, count*tt.copies)
			}
			if s := p.Link().Stats(); s.Delivered != uint64(count*tt.copies) {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestPipeDrainAndLoss(t *testing.T) {
	p, err := NewPipe(Config{Loss: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Send(0, []byte("lost")); c != 0 || p.Len() != 0 {
		t.Fatalf("certain loss: %d copies, %d pending", c, p.Len())
	}
	q, err := NewPipe(Config{Delay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q.Send(0, []byte("a"))
	q.Send(1, []byte("b"))
	if due := q.Receive(at(int64(time.Second)-1), nil); len(due) != 0 {
		t.Fatalf("Receive before the delay returned %q", due)
	}
	rest := q.Drain(nil)
	if len(rest) != 2 || string(rest[0]) != "a" || string(rest[1]) != "b" || q.Len() != 0 {
		t.Fatalf("Drain = %q, %d left", rest, q.Len())
	}
}

// TestPipeBuffersGrow: a datagram larger than the pooled buffers gets a
// buffer of its own, and a released small buffer is not handed out for it.
func TestPipeBuffersGrow(t *testing.T) {
	p, err := NewPipe(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p.Send(0, make([]byte, 10))
	small := p.Receive(0, nil)[0]
	p.Release(small)
	big := bytes.Repeat([]byte{7}, 3*minBuf)
	p.Send(1, big)
	got := p.Receive(1, nil)
	if len(got) != 1 || !bytes.Equal(got[0], big) {
		t.Fatal("a large datagram did not arrive intact")
	}
	p.Send(2, []byte("tiny"))
	if got := p.Receive(2, nil); string(got[0]) != "tiny" || &got[0][:1][0] != &small[:1][0] {
		t.Fatal("the released small buffer was not reused")
	}
}
