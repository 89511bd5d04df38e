package relay

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/batchio"
)

// BenchmarkRelay moves 1200-byte datagrams from one socket to another on
// loopback, directly (the baseline) and through an unimpaired relay, with
// batchio on both ends (sendmmsg+GSO out, recvmmsg+GRO in). The sender
// keeps at most window datagrams unreceived, so no kernel buffer overflows
// and the figure is what the path sustains. Metrics: MB/s and pkts/s of
// datagrams received.
func BenchmarkRelay(b *testing.B) {
	for _, via := range []string{"direct", "relay"} {
		b.Run(via, func(b *testing.B) { benchPath(b, via == "relay") })
	}
}

func openBatch(b *testing.B) (*batchio.Conn, netip.AddrPort) {
	b.Helper()
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	c, err := batchio.New(uc, batchio.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return c, uc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func benchPath(b *testing.B, viaRelay bool) {
	const size, window = 1200, 4096
	rx, rxAddr := openBatch(b)
	tx, _ := openBatch(b)
	dst := rxAddr
	var r *Relay
	if viaRelay {
		var err error
		if r, err = New(Config{Target: rxAddr}); err != nil {
			b.Fatal(err)
		}
		dst = r.Addr()
	}
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		msgs := make([]batchio.Message, rx.BatchSize())
		for {
			n, err := rx.ReadBatch(msgs)
			if err != nil {
				return
			}
			received.Add(int64(n))
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	payload := make([]byte, size)
	msgs := make([]batchio.Message, tx.BatchSize())
	for i := range msgs {
		msgs[i] = batchio.Message{Buffer: payload, Addr: dst}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		for int64(sent)-received.Load() > window-int64(len(msgs)) {
			select {
			case <-progress:
			case <-time.After(5 * time.Second):
				b.Fatalf("stalled: %d sent, %d received", sent, received.Load())
			}
		}
		k := min(len(msgs), b.N-sent)
		n, err := tx.WriteBatch(msgs[:k])
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	for received.Load() < int64(b.N) {
		select {
		case <-progress:
		case <-time.After(5 * time.Second):
			b.Fatalf("stalled at the end: %d sent, %d received", sent, received.Load())
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)*size/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(0, "ns/op") // the rate metrics are the result
	_ = tx.Close()
	if r != nil {
		_ = r.Close()
	}
	_ = rx.Close()
	<-done
}
