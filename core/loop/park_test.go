package loop

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/petrel-transport/petrel/batchio"
)

// TestWriteParks forces the EAGAIN path. On loopback a lone writer never
// finds its send buffer full (loopback_xmit orphans each skb as it sends
// it, so the sender's wmem drops back at once), so a competitor writes
// 65000-byte datagrams through the same socket from another fd, keeping
// wmem above the smallest SO_SNDBUF the kernel grants (4608 bytes) while
// the driver bursts 256-datagram batches: the driver's sendmmsg meets
// EAGAIN. The gnet driver parks in Go's poller and counts it; the poller
// driver parks inside batchio (uncounted). Either way every WriteBatch
// must complete in full with no error.
func TestWriteParks(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) })
			dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // never read: drops are fine
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			d := open(t, k, Config{Batch: batchio.Config{SendBufferSize: 1}}, newSink(0, 0))
			fd := dupFDs(t, d)[0]
			defer unix.Close(fd)
			to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
			sa := &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}

			stop := make(chan struct{})
			var eagain atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				big := make([]byte, 65000)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := unix.Sendto(fd, big, unix.MSG_DONTWAIT, sa); errors.Is(err, unix.EAGAIN) {
						eagain.Add(1)
					}
				}
			}()

			buf := make([]byte, 1200)
			msgs := make([]batchio.Message, 256)
			for i := range msgs {
				msgs[i] = batchio.Message{Buffer: buf, Addr: to}
			}
			bursts := 0
			for ; bursts < 20000; bursts++ {
				n, err := d.WriteBatch(msgs)
				if n != len(msgs) || err != nil {
					close(stop)
					wg.Wait()
					t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(msgs))
				}
				if bursts >= 100 && eagain.Load() > 0 && (k.name != "gnet" || d.Stats().WriteParks > 0) {
					break
				}
			}
			close(stop)
			wg.Wait()
			st := d.Stats()
			t.Logf("%d bursts of %d: WriteParks %d, competitor EAGAIN %d", bursts+1, len(msgs), st.WriteParks, eagain.Load())
			if eagain.Load() == 0 {
				t.Error("the send buffer never filled: the competitor never met EAGAIN")
			}
			if k.name == "gnet" && st.WriteParks == 0 {
				t.Error("gnet: WriteParks = 0: WriteBatch never parked")
			}
			if k.name == "poller" && st.WriteParks != 0 {
				t.Errorf("poller: WriteParks = %d, want 0 (batchio parks uncounted)", st.WriteParks)
			}
			if want := uint64(bursts+1) * uint64(len(msgs)); st.IO.Sent != want {
				t.Errorf("sent %d datagrams, want %d", st.IO.Sent, want)
			}
		})
	}
}
