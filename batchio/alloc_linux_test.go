package batchio

import (
	"testing"
	"time"
)

// TestZeroAllocs asserts that a steady-state WriteBatch and the ReadBatch
// calls that receive it allocate nothing, in every offload mode.
func TestZeroAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"mmsg", Config{DisableGSO: true, DisableGRO: true}},
		{"gso", Config{DisableGRO: true}},
		{"gsogro", Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx, dst := listen(t, "udp6", "[::1]:0", tt.cfg)
			tx, _ := listen(t, "udp6", "[::1]:0", tt.cfg)
			if err := rx.uc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			out := make([]Message, 32)
			for i := range out {
				out[i] = Message{Buffer: payload(make([]byte, 1200), uint32(i)), Addr: dst}
			}
			in := make([]Message, tx.BatchSize())
			var failed error
			round := func() {
				if n, err := tx.WriteBatch(out); n != len(out) || err != nil {
					failed = err
					return
				}
				for got := 0; got < len(out); {
					n, err := rx.ReadBatch(in)
					if err != nil {
						failed = err
						return
					}
					got += n
				}
			}
			round() // warm up
			allocs := testing.AllocsPerRun(50, round)
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Fatalf("%v allocations per WriteBatch+ReadBatch round, want 0", allocs)
			}
		})
	}
}
