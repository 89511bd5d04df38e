package batchio

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestZeroAllocs asserts that a steady-state WriteBatch and the ReadBatch
// calls that receive it allocate nothing, in every offload mode.
func TestZeroAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		fd   bool
	}{
		{"mmsg", Config{DisableGSO: true, DisableGRO: true}, false},
		{"gso", Config{DisableGRO: true}, false},
		{"gsogro", Config{}, false},
		{"fd/gsogro", Config{}, true},
		{"nommsg", Config{DisableMmsg: true}, false},
		{"fd/nommsg", Config{DisableMmsg: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx, dst := listen(t, "udp6", "[::1]:0", tt.cfg)
			tx, _ := listen(t, "udp6", "[::1]:0", tt.cfg)
			if err := rx.uc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			pfd := []unix.PollFd{{Fd: -1, Events: unix.POLLIN}}
			if tt.fd {
				// The receiver in fd mode, as an event loop would run it.
				fd, addr := rawSocket(t, unix.SOCK_NONBLOCK)
				pfd[0].Fd = int32(fd)
				var err error
				if rx, err = NewFD(uintptr(fd), tt.cfg); err != nil {
					t.Fatal(err)
				}
				dst = addr
				tx, _ = listen(t, "udp4", "127.0.0.1:0", tt.cfg)
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
					if err == ErrWouldBlock {
						// fd mode: wait for readiness as an event loop does.
						_, err = unix.Poll(pfd, 10000)
					}
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
