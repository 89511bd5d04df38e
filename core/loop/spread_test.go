package loop

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
)

// TestLoopsSpread: with Loops 2, datagrams from many source ports reach
// both loops (the kernel's SO_REUSEPORT hash), replies to many peers leave
// through both sockets (the destination hash), and every reply carries
// the driver's one address as its source.
func TestLoopsSpread(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) })
			rx := newSink(0, 1)
			d := open(t, k, Config{Loops: 2}, rx)
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			buf := make([]byte, 64)
			var peers []*net.UDPConn
			defer func() {
				for _, p := range peers {
					_ = p.Close()
				}
			}()
			for len(peers) < 16 || !(rx.loops[0].Load() && rx.loops[1].Load()) {
				if len(peers) == 256 {
					t.Fatalf("%d source ports all reached one loop", len(peers))
				}
				p, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				peers = append(peers, p)
				if _, err := p.WriteToUDPAddrPort(encode(buf, 0, 64), d.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				if err := rx.waitRecords(ctx, rx.notify[0], int64(len(peers))); err != nil {
					t.Fatal(err)
				}
			}
			msgs := make([]batchio.Message, len(peers))
			for i, p := range peers {
				msgs[i] = batchio.Message{Buffer: encode(buf, uint32(i), 64), Addr: p.LocalAddr().(*net.UDPAddr).AddrPort()}
			}
			if n, err := d.WriteBatch(msgs); n != len(msgs) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			for i, p := range peers {
				_ = p.SetReadDeadline(time.Now().Add(guard))
				n, from, err := p.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("peer %d: %v", i, err)
				}
				if from != d.LocalAddr() || n != 64 {
					t.Errorf("peer %d: %d bytes from %v, want 64 from %v", i, n, from, d.LocalAddr())
				}
			}
			for i, st := range sockStats(d) {
				if st.Sent == 0 {
					t.Errorf("socket %d sent nothing to %d peers", i, len(peers))
				}
			}
			if err := rx.err(); err != nil {
				t.Error(err)
			}
		})
	}
}
