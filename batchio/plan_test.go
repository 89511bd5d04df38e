package batchio

import (
	"bytes"
	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"net/netip"
	"slices"
	"testing"
)

var (
	addrA  = netip.MustParseAddrPort("127.0.0.1:1000")
	addrB  = netip.MustParseAddrPort("[::1]:1000")
	localA = netip.MustParseAddr("127.0.0.2")
)

// batch builds messages from (size, addr) pairs.
func batch(spec ...any) []Message {
	var msgs []Message
	for i := 0; i < len(spec); i += 2 {
		msgs = append(msgs, Message{Buffer: make([]byte, spec[i].(int)), Addr: spec[i+1].(netip.AddrPort)})
	}
	return msgs
}

func repeat(n, size int, a netip.AddrPort) []any {
	var s []any
	for range n {
		s = append(s, size, a)
	}
	return s
}

func TestPlanRuns(t *testing.T) {
	tests := []struct {
		name string
		msgs []Message
		gso  bool
		want []run
	}{
		{"empty batch", nil, true, nil},
		{"gso off: one run each", batch(100, addrA, 100, addrA), false, []run{{0, 1, 100}, {1, 1, 100}}},
		{"equal sizes coalesce", batch(100, addrA, 100, addrA, 100, addrA), true, []run{{0, 3, 100}}},
		{"shorter tail joins then ends", batch(100, addrA, 100, addrA, 40, addrA, 40, addrA), true, []run{{0, 3, 100}, {3, 1, 40}}},
		{"longer datagram ends run", batch(100, addrA, 100, addrA, 200, addrA, 200, addrA), true, []run{{0, 2, 100}, {2, 2, 200}}},
		{"new destination ends run", batch(100, addrA, 100, addrA, 100, addrB, 100, addrB, 100, addrA), true, []run{{0, 2, 100}, {2, 2, 100}, {4, 1, 100}}},
		{"new source ends run", func() []Message {
			m := batch(100, addrA, 100, addrA, 100, addrA)
			m[2].Local = localA
			return m
		}(), true, []run{{0, 2, 100}, {2, 1, 100}}},
		{"same IP other port ends run", batch(100, addrA, 100, netip.AddrPortFrom(addrA.Addr(), 1001)), true, []run{{0, 1, 100}, {1, 1, 100}}},
		{"64 segments at most", batch(repeat(70, 10, addrA)...), true, []run{{0, 64, 10}, {64, 6, 10}}},
		{"64 KB at most", batch(repeat(60, 1200, addrA)...), true, []run{{0, maxGSOBytes / 1200, 1200}, {maxGSOBytes / 1200, 60 - maxGSOBytes/1200, 1200}}},
		{"empty datagrams never coalesce", batch(0, addrA, 0, addrA, 10, addrA, 0, addrA), true, []run{{0, 1, 0}, {1, 1, 0}, {2, 1, 10}, {3, 1, 0}}},
		// Path MTU discovery (core/session/pmtud.go): a session that falls
		// back from 1452 to 1200 bytes mid-batch, then a larger probe.
		{"size falls mid-batch, probe last", batch(1452, addrA, 1452, addrA, 1200, addrA, 1200, addrA, 1200, addrA, 1500, addrA), true,
			[]run{{0, 3, 1452}, {3, 2, 1200}, {5, 1, 1500}}},
		{"size rises mid-batch", batch(1200, addrA, 1200, addrA, 1452, addrA, 1452, addrA), true, []run{{0, 2, 1200}, {2, 2, 1452}}},
		{"oversized single stays alone", batch(70000, addrA, 10, addrA), true, []run{{0, 1, 70000}, {1, 1, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planRuns(tt.msgs, tt.gso, maxGSOSegments, maxGSOBytes, len(tt.msgs)+1, nil)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("planRuns = %v, want %v", got, tt.want)
			}
			checkPlan(t, tt.msgs, got, tt.gso, maxGSOSegments, maxGSOBytes)
		})
	}
}

// checkPlan asserts the kernel's GSO rule and the round trip: each run,
// concatenated and cut by segmentEnd at its segment size, gives back its
// datagrams, and the runs cover msgs in order.
func checkPlan(t *testing.T, msgs []Message, runs []run, gso bool, maxSegs, maxBytes int) {
	t.Helper()
	next := 0
	if len(runs) == 0 && len(msgs) > 0 {
		t.Fatalf("no run for %d messages", len(msgs))
	}
	for _, r := range runs {
		if r.start != next || r.count < 1 || r.start+r.count > len(msgs) {
			t.Fatalf("run %v does not continue at %d within %d messages", r, next, len(msgs))
		}
		next += r.count
		if r.size != len(msgs[r.start].Buffer) {
			t.Fatalf("run %v: size is not the first datagram's %d", r, len(msgs[r.start].Buffer))
		}
		if r.count == 1 {
			continue
		}
		if !gso || r.count > maxSegs || r.size == 0 {
			t.Fatalf("run %v coalesces with gso=%v maxSegs=%d", r, gso, maxSegs)
		}
		var cat []byte
		for i, m := range msgs[r.start : r.start+r.count] {
			if m.Addr != msgs[r.start].Addr || m.Local != msgs[r.start].Local {
				t.Fatalf("run %v mixes destinations or sources", r)
			}
			if l := len(m.Buffer); l > r.size || (l < r.size && i != r.count-1) {
				t.Fatalf("run %v: segment %d has %d bytes", r, i, l)
			}
			cat = append(cat, m.Buffer...)
		}
		if len(cat) > maxBytes {
			t.Fatalf("run %v carries %d bytes > %d", r, len(cat), maxBytes)
		}
		if n := segmentCount(len(cat), r.size); n != r.count {
			t.Fatalf("run %v splits back into %d datagrams", r, n)
		}
		i := r.start
		for off := 0; off < len(cat); i++ {
			end := segmentEnd(len(cat), r.size, off)
			if !bytes.Equal(cat[off:end], msgs[i].Buffer) {
				t.Fatalf("run %v: datagram %d does not round-trip", r, i)
			}
			off = end
		}
	}
	if next != len(msgs) {
		t.Fatalf("runs cover %d of %d messages", next, len(msgs))
	}
}

// FuzzPlanRuns drives planRuns with arbitrary batches (each input byte
// pair is one datagram: its size class, and its destination and source) and limits, and
// checks the kernel's rule and the round trip, and that the plan is maximal
// (a run ends only when the next datagram could not join it).
func FuzzPlanRuns(f *testing.F) {
	fuzzseed.Add(f, []byte{10, 0, 10, 0, 10, 1, 5, 1}, uint8(64), uint16(65487), true)
	fuzzseed.Add(f, []byte{200, 0, 200, 0, 100, 0, 200, 0}, uint8(2), uint16(500), true)
	fuzzseed.Add(f, []byte{0, 0, 0, 0, 1, 0}, uint8(64), uint16(65487), false)
	f.Fuzz(func(t *testing.T, spec []byte, maxSegs uint8, maxBytes uint16, gso bool) {
		if maxSegs == 0 {
			maxSegs = 1
		}
		var msgs []Message
		for i := 0; i+1 < len(spec) && len(msgs) < 512; i += 2 {
			b := make([]byte, int(spec[i])*7)
			for j := range b {
				b[j] = byte(len(msgs) + j)
			}
			a := addrA
			if spec[i+1]&1 == 1 {
				a = addrB
			}
			var local netip.Addr
			if spec[i+1]&2 == 2 {
				local = localA
			}
			msgs = append(msgs, Message{Buffer: b, Addr: a, Local: local})
		}
		runs := planRuns(msgs, gso, int(maxSegs), int(maxBytes), len(msgs)+1, nil)
		checkPlan(t, msgs, runs, gso, int(maxSegs), int(maxBytes))
		// A cap on the number of runs plans a prefix of the same plan.
		if maxRuns := int(maxSegs)%8 + 1; maxRuns < len(runs) {
			if capped := planRuns(msgs, gso, int(maxSegs), int(maxBytes), maxRuns, nil); !slices.Equal(capped, runs[:maxRuns]) {
				t.Fatalf("capped plan %v is not a prefix of %v", capped, runs)
			}
		}
		if !gso {
			return
		}
		for _, r := range runs {
			end := r.start + r.count
			if end == len(msgs) || r.size == 0 {
				continue
			}
			last, nxt := msgs[end-1], msgs[end]
			total := 0
			for _, m := range msgs[r.start:end] {
				total += len(m.Buffer)
			}
			canJoin := len(last.Buffer) == r.size && nxt.Addr == last.Addr && nxt.Local == last.Local &&
				len(nxt.Buffer) > 0 && len(nxt.Buffer) <= r.size &&
				r.count < int(maxSegs) && total+len(nxt.Buffer) <= int(maxBytes)
			if canJoin {
				t.Fatalf("run %v ended although datagram %d could join it", r, end)
			}
		}
	})
}
