package batchio

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setRawBudget sets the longest send c makes raw (0: none), for the
// -sched benchmark variants.
func setRawBudget(_ testing.TB, c *Conn, d time.Duration) { c.rawBudget = d }

// BenchmarkSend isolates the send path, as BenchmarkReceive isolates the
// receive path: the timed part only sends, benchQueued 1200-byte datagrams
// at a time, to a socket outside Go's poller (so no receiver runs and no
// arrival wakes the poller) that is drained with the timer stopped. ns/op
// is the sender's cost per datagram: the system calls and the whole kernel
// delivery on loopback. stdlib is net.UDPConn, one sendto per datagram;
// mmsg is WriteBatch with sendmmsg (GSO off); mmsg-sched is mmsg with every
// sendmmsg made through the scheduler.
func BenchmarkSend(b *testing.B) {
	b.Run("stdlib", func(b *testing.B) {
		benchSend(b, func(dst netip.AddrPort) func(int) (int, error) {
			c := listenBench(b)
			_ = c.SetWriteBuffer(DefaultSocketBuffer)
			out := make([]byte, benchDatagram)
			return func(n int) (int, error) {
				for i := range n {
					if _, err := c.WriteToUDPAddrPort(out, dst); err != nil {
						return i, err
					}
				}
				return n, nil
			}
		})
	})
	batchio := func(rawBudget time.Duration) func(netip.AddrPort) func(int) (int, error) {
		return func(dst netip.AddrPort) func(int) (int, error) {
			c, err := New(listenBench(b), Config{DisableGSO: true, DisableGRO: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			setRawBudget(b, c, rawBudget)
			out := make([]Message, benchQueued)
			payload := make([]byte, benchDatagram)
			for i := range out {
				out[i] = Message{Buffer: payload, Addr: dst}
			}
			return func(n int) (int, error) { return c.WriteBatch(out[:n]) }
		}
	}
	b.Run("mmsg", func(b *testing.B) { benchSend(b, batchio(rawSendBudget)) })
	b.Run("mmsg-sched", func(b *testing.B) { benchSend(b, batchio(0)) })
}

// benchSend times send (made by newSender for a destination) writing b.N
// datagrams, benchQueued at a time, to a blocking socket outside the poller
// that is drained between rounds with the timer stopped.
func benchSend(b *testing.B, newSender func(dst netip.AddrPort) func(n int) (int, error)) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, DefaultSocketBuffer); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, DefaultSocketBuffer)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		b.Fatal(err)
	}
	send := newSender(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port)))
	in := make([]byte, maxUDPPayload)
	b.ReportAllocs()
	b.SetBytes(benchDatagram)
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(benchQueued, b.N-done)
		for k := 0; k < n; {
			m, err := send(n - k)
			if err != nil {
				b.Fatalf("send: %v", err)
			}
			k += m
		}
		b.StopTimer()
		for range n {
			// Blocking: a datagram still on its way is waited for.
			if _, _, err := unix.Recvfrom(fd, in, 0); err != nil {
				b.Fatalf("drain: %v", err)
			}
		}
		b.StartTimer()
		done += n
	}
}
