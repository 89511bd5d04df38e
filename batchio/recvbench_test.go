package batchio

// BenchmarkReceive isolates the receive path, which BenchmarkLoopback
// cannot: there the sender's CPU runs the whole kernel delivery and sets
// the pace, and the receiver idles between wake-ups. Here the receive queue
// is filled first (timer stopped) with benchQueued 1200-byte datagrams, and
// the timed part only reads them back, so ns/op is the receiver's CPU cost
// per datagram: the system calls, the kernel's per-message work (copying
// the payload, the source address and any control messages out) and the
// user-space bookkeeping. stdlib is net.UDPConn, one recvfrom per datagram;
// mmsg is ReadBatch with recvmmsg (GRO off, so each datagram is its own
// message).

import (
	"net"
	"testing"
)

const benchQueued = 512 // datagrams queued per round: ~1.2 MB of skb truesize, far below the receive buffers

func BenchmarkReceive(b *testing.B) {
	b.Run("stdlib", func(b *testing.B) {
		rx := listenBench(b)
		_ = rx.SetReadBuffer(DefaultSocketBuffer)
		in := make([]byte, maxUDPPayload)
		benchReceive(b, rx.LocalAddr().(*net.UDPAddr), func() (int, error) {
			_, _, err := rx.ReadFromUDPAddrPort(in)
			return 1, err
		})
	})
	b.Run("mmsg", func(b *testing.B) {
		rx, err := New(listenBench(b), Config{DisableGSO: true, DisableGRO: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rx.Close() })
		in := make([]Message, rx.BatchSize())
		benchReceive(b, rx.uc.LocalAddr().(*net.UDPAddr), func() (int, error) { return rx.ReadBatch(in) })
	})
}

// benchReceive queues datagrams to dst in rounds of benchQueued with the
// timer stopped and times recv reading them back; b.N is the number of
// datagrams read.
func benchReceive(b *testing.B, dst *net.UDPAddr, recv func() (int, error)) {
	tx, err := New(listenBench(b), Config{DisableGSO: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tx.Close() })
	out := make([]Message, benchQueued)
	for i := range out {
		out[i] = Message{Buffer: make([]byte, benchDatagram), Addr: dst.AddrPort()}
	}
	b.ReportAllocs()
	b.SetBytes(benchDatagram)
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		want := min(benchQueued, b.N-done)
		if n, err := tx.WriteBatch(out[:want]); n != want || err != nil {
			b.Fatalf("queueing %d datagrams: %d, %v", want, n, err)
		}
		b.StartTimer()
		for got := 0; got < want; {
			n, err := recv()
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
		done += want
	}
}
