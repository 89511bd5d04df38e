package loop

import (
	"bytes"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
)

// TestListenUnspecifiedIPv4: a driver bound to 0.0.0.0 (what `petrel send`
// binds to for a peer on another host) reaches an IPv4 peer and hears its
// answer. gnet's "udp6" sockets are IPV6_V6ONLY, so a gnet driver that took
// the family from Go's dual-stack placeholder (which reports [::]) could
// not send to any IPv4 address: sendmmsg failed with ENETUNREACH.
func TestListenUnspecifiedIPv4(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) }) // after the driver's Close
			rx := newSink(1, 1)
			d, err := k.listen("0.0.0.0:0", Config{}, rx)
			if err != nil {
				t.Skip(err) // gnet off Linux: errors.ErrUnsupported
			}
			t.Cleanup(func() { _ = d.Close() })
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			if err := peer.SetReadDeadline(time.Now().Add(guard)); err != nil { // a failure guard, not a pacing
				t.Fatal(err)
			}
			msg := []byte("to an IPv4 peer from 0.0.0.0")
			dst := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			if _, err := d.WriteBatch([]batchio.Message{{Buffer: msg, Addr: dst}}); err != nil {
				t.Fatalf("WriteBatch to %v: %v", dst, err)
			}
			buf := make([]byte, 64)
			n, from, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], msg) || from.Port() != d.LocalAddr().Port() {
				t.Fatalf("got %q from %v; want %q from port %d", buf[:n], from, msg, d.LocalAddr().Port())
			}
		})
	}
}
