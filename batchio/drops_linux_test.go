package batchio

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKernelDrops overflows a tiny receive buffer and checks that
// Stats.KernelDrops accounts exactly for every datagram that did not arrive,
// with each source of the kernel's drop counter:
//   - meminfo: Stats reads it with SO_MEMINFO, so the count is exact as
//     soon as the queue is drained, and no control message per datagram is
//     asked for (SO_RXQ_OVFL is off);
//   - rxq_ovfl: the fallback for kernels whose SO_MEMINFO lacks it, forced
//     here: the kernel attaches the count (SO_RXQ_OVFL) to datagrams queued
//     after the drops, so a marker datagram is sent once the queue has been
//     drained.
func TestKernelDrops(t *testing.T) {
	for _, source := range []string{"meminfo", "rxq_ovfl"} {
		t.Run(source, func(t *testing.T) {
			rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{RecvBufferSize: 1, DisableGRO: true})
			tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
			if !rx.Capabilities().RxqOverflow {
				t.Skip("kernel reports no receive-queue drops")
			}
			rxqOn := sockoptInt(t, rx.uc, unix.SOL_SOCKET, unix.SO_RXQ_OVFL) != 0
			switch source {
			case "meminfo":
				if !rx.meminfo {
					t.Skip("kernel whose SO_MEMINFO has no drop counter")
				}
				if rxqOn {
					t.Fatal("SO_RXQ_OVFL on although SO_MEMINFO reports drops")
				}
			case "rxq_ovfl":
				rc, err := rx.uc.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				var serr error
				if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) }); err != nil || serr != nil {
					t.Skipf("SO_RXQ_OVFL: %v %v", err, serr)
				}
				rx.meminfo, rx.rxq = false, true
			}
			const burst, marker = 64, 1 << 20
			sizeOf := func(uint32) int { return 1200 }
			msgs := make([]Message, burst)
			for i := range msgs {
				msgs[i] = Message{Buffer: payload(make([]byte, 1200), uint32(i)), Addr: dst}
			}
			if n, err := tx.WriteBatch(msgs); n != burst || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			in := make([]Message, rx.BatchSize())
			if err := rx.uc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			received := 0
			count := func(ms []Message) { received += len(ms) }
			if _, err := rx.Drain(in, count); err != nil {
				t.Fatal(err)
			}
			if received == burst {
				t.Skipf("a %d-byte receive buffer held the whole burst", rx.Capabilities().RecvBuffer)
			}
			if source == "meminfo" {
				if drops := rx.Stats().KernelDrops; drops != uint64(burst-received) {
					t.Fatalf("KernelDrops = %d, but %d of %d datagrams arrived", drops, received, burst)
				}
				return
			}
			if _, err := tx.WriteBatch([]Message{{Buffer: payload(make([]byte, 1200), marker), Addr: dst}}); err != nil {
				t.Fatal(err)
			}
			for done := false; !done; {
				n, err := rx.ReadBatch(in)
				if err != nil {
					t.Fatalf("waiting for the marker: %v", err)
				}
				for _, m := range in[:n] {
					seq, err := checkPayload(m.Buffer, sizeOf)
					if err != nil {
						t.Fatal(err)
					}
					if seq == marker {
						done = true
					} else {
						received++
					}
				}
			}
			if drops := rx.Stats().KernelDrops; drops != uint64(burst-received) {
				t.Fatalf("KernelDrops = %d, but %d of %d datagrams arrived", drops, received, burst)
			}
		})
	}
}
