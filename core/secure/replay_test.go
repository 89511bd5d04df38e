package secure

import (
	"encoding/binary"
	"testing"
)

// replayModel is the slow reference: a set of accepted numbers and the
// window rule (numbers more than ReplayWindowSize-1 below the highest
// accepted one are too old).
type replayModel struct {
	seen map[uint64]bool
	max  uint64
	any  bool
}

func (m *replayModel) check(pn uint64) Verdict {
	switch {
	case m.any && pn < m.max && m.max-pn >= ReplayWindowSize:
		return TooOld
	case m.seen[pn]:
		return Duplicate
	}
	return Fresh
}

func (m *replayModel) accept(pn uint64) Verdict {
	v := m.check(pn)
	if v == Fresh {
		if m.seen == nil {
			m.seen = map[uint64]bool{}
		}
		m.seen[pn] = true
		if !m.any || pn > m.max {
			m.max, m.any = pn, true
		}
	}
	return v
}

func TestReplayWindowEdges(t *testing.T) {
	const W = ReplayWindowSize
	type op struct {
		accept bool
		pn     uint64
		want   Verdict
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"zero value accepts 0 once", []op{{false, 0, Fresh}, {true, 0, Fresh}, {true, 0, Duplicate}, {false, 0, Duplicate}}},
		{"check records nothing", []op{{false, 5, Fresh}, {false, 5, Fresh}, {true, 5, Fresh}}},
		{"oldest in window", []op{{true, W, Fresh}, {true, 1, Fresh}, {true, 1, Duplicate}}},
		{"just below window", []op{{true, W, Fresh}, {false, 0, TooOld}, {true, 0, TooOld}}},
		{"slide keeps the window", []op{{true, 100, Fresh}, {true, 100 + W - 1, Fresh}, {true, 100, Duplicate}, {true, 99 + W, Duplicate}}},
		{"slide drops the old", []op{{true, 100, Fresh}, {true, 100 + W, Fresh}, {true, 100, TooOld}, {true, 101, Fresh}}},
		{"word boundary", []op{{true, 63, Fresh}, {true, 64, Fresh}, {true, 63, Duplicate}, {true, 65, Fresh}}},
		{"large jump clears the ring", []op{{true, 7, Fresh}, {true, 1 << 40, Fresh}, {true, 1<<40 - 1, Fresh}, {true, 7 + 1<<40 - 64*replayWords, TooOld}, {true, 1 << 40, Duplicate}}},
		{"jump by exactly the ring", []op{{true, 5, Fresh}, {true, 5 + 64*replayWords, Fresh}, {false, 5 + 64*replayWords - W + 1, Fresh}}},
		{"62-bit numbers", []op{{true, 1<<62 - 1, Fresh}, {true, 1<<62 - 2, Fresh}, {true, 1<<62 - 1, Duplicate}, {true, 1<<62 - 1 - W, TooOld}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w ReplayWindow
			var m replayModel
			for i, o := range tt.ops {
				var got, ref Verdict
				if o.accept {
					got, ref = w.Accept(o.pn), m.accept(o.pn)
				} else {
					got, ref = w.Check(o.pn), m.check(o.pn)
				}
				if got != o.want || ref != o.want {
					t.Fatalf("op %d (accept=%v pn=%d): window %v, model %v, want %v", i, o.accept, o.pn, got, ref, o.want)
				}
			}
		})
	}
}

// replayOps turns fuzz bytes into window operations: each 3-byte record is
// a kind (check or accept, and the direction of the step) and a step
// relative to the highest number so far, scaled so that sequences reach the
// window's edges, jumps and reordering.
func replayOps(data []byte, do func(accept bool, pn uint64)) {
	var hi uint64
	for len(data) >= 3 {
		kind, step := data[0], uint64(binary.LittleEndian.Uint16(data[1:3]))
		data = data[3:]
		switch kind >> 6 {
		case 0: // small step around the top
			step %= 256
		case 1: // near the window's lower edge
			step = ReplayWindowSize - 128 + step%256
		case 2: // anywhere in the ring's reach
			step %= 2 * ReplayWindowSize
		case 3: // large jump
			step <<= 16
		}
		var pn uint64
		if kind&2 == 0 {
			pn = hi + step
		} else if step <= hi {
			pn = hi - step
		}
		pn %= maxPacketNumber
		if pn > hi {
			hi = pn
		}
		do(kind&1 == 1, pn)
	}
}

func FuzzReplayWindow(f *testing.F) {
	f.Add([]byte{1, 0, 0, 1, 1, 0, 1, 0, 0})
	f.Add([]byte{0xc1, 1, 0, 0x43, 0, 0, 0x41, 0, 1, 3, 5, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var w ReplayWindow
		var m replayModel
		i := 0
		replayOps(data, func(accept bool, pn uint64) {
			i++
			var got, want Verdict
			if accept {
				got, want = w.Accept(pn), m.accept(pn)
			} else {
				got, want = w.Check(pn), m.check(pn)
			}
			if got != want {
				t.Fatalf("op %d (accept=%v pn=%d): window %v, model %v", i, accept, pn, got, want)
			}
		})
	})
}

func TestReplayWindowRandomAgainstModel(t *testing.T) {
	data := make([]byte, 30000)
	var x uint64 = 0x9e3779b97f4a7c15
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = byte(x)
	}
	var w ReplayWindow
	var m replayModel
	replayOps(data, func(accept bool, pn uint64) {
		var got, want Verdict
		if accept {
			got, want = w.Accept(pn), m.accept(pn)
		} else {
			got, want = w.Check(pn), m.check(pn)
		}
		if got != want {
			t.Fatalf("accept=%v pn=%d: window %v, model %v", accept, pn, got, want)
		}
	})
}

func TestReplayWindowAllocatesNothing(t *testing.T) {
	var w ReplayWindow
	pn := uint64(0)
	if n := testing.AllocsPerRun(1000, func() {
		pn += 3
		w.Check(pn)
		w.Accept(pn)
		w.Accept(pn - 2)
	}); n != 0 {
		t.Fatalf("Check/Accept allocate %v per run", n)
	}
}

func TestVerdictString(t *testing.T) {
	for _, v := range []Verdict{Fresh, Duplicate, TooOld, 0} {
		if v.String() == "" {
			t.Fatalf("empty String for %d", v)
		}
	}
}
