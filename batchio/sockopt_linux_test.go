package batchio

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSocketSetup checks what the kernel granted: with CAP_NET_ADMIN (root)
// the *FORCE options bypass net.core.rmem_max, so at least the requested
// buffer is granted (Linux reports twice the request, socket(7)); offloads
// asked off stay off. It logs the capabilities for the record.
func TestSocketSetup(t *testing.T) {
	c, _ := listen(t, "udp6", "[::1]:0", Config{})
	caps := c.Capabilities()
	t.Logf("capabilities: %+v", caps)
	if !caps.MMsg {
		t.Error("Linux Conn without recvmmsg/sendmmsg")
	}
	if os.Geteuid() == 0 && (caps.RecvBuffer < DefaultSocketBuffer || caps.SendBuffer < DefaultSocketBuffer) {
		t.Errorf("root was granted %d/%d bytes, want at least %d", caps.RecvBuffer, caps.SendBuffer, DefaultSocketBuffer)
	}
	off, _ := listen(t, "udp6", "[::1]:0", Config{DisableGSO: true, DisableGRO: true, RecvBufferSize: -1, SendBufferSize: -1})
	if oc := off.Capabilities(); oc.GSO || oc.GRO || oc.RecvBuffer >= caps.RecvBuffer && caps.RecvBuffer > 0 && os.Geteuid() == 0 {
		t.Errorf("disabled offloads or untouched buffers not respected: %+v", oc)
	}
}

// TestDontFragment: every socket sends with DF and never fragments (RFC
// 9000 section 14), so a datagram above the interface's MTU is refused
// with EMSGSIZE instead of leaving in fragments, which path MTU discovery
// needs. Loopback's MTU is 64 KiB, so a datagram at the UDP limit over
// IPv4 (65507 bytes of payload) would fit; the test checks the option and
// that a datagram beyond the interface MTU of a 1500-byte path is not
// what fails here.
func TestDontFragment(t *testing.T) {
	for _, tt := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(tt.network, func(t *testing.T) {
			c, local := listen(t, tt.network, tt.addr, Config{})
			if !c.Capabilities().DontFragment {
				t.Fatal("DontFragment not set")
			}
			rc, err := c.uc.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var v4, v6 int
			var gerr error
			if err := rc.Control(func(fd uintptr) {
				v4, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
				if gerr == nil && tt.network == "udp6" {
					v6, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER)
				}
			}); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if v4 != unix.IP_PMTUDISC_PROBE || tt.network == "udp6" && v6 != unix.IPV6_PMTUDISC_PROBE {
				t.Fatalf("IP_MTU_DISCOVER %d, IPV6_MTU_DISCOVER %d: want PMTUDISC_PROBE", v4, v6)
			}
			// Above the loopback MTU (65536 bytes; 65527 bytes of UDP
			// payload make a 65575-byte IPv6 packet): with DF the kernel
			// refuses with EMSGSIZE, through WriteBatch, rather than
			// fragmenting.
			if tt.network == "udp6" {
				n, err := c.WriteBatch([]Message{{Buffer: make([]byte, 65527), Addr: local}})
				if n != 0 || !errors.Is(err, syscall.EMSGSIZE) {
					t.Fatalf("65527-byte datagram over IPv6 loopback: sent %d, %v; want EMSGSIZE", n, err)
				}
			}
		})
	}
}
