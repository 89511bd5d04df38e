package batchio

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLocalAddress sends from a socket bound to a wildcard address with a
// chosen source per message (loopback owns all of 127.0.0.0/8), to a
// receiver bound to a wildcard address, and checks the receiver sees each
// datagram from the chosen source and to the address it was sent to. GSO
// runs must break where the source changes.
func TestLocalAddress(t *testing.T) {
	tests := []struct {
		name, network, bind string
	}{
		{"ipv4", "udp4", "0.0.0.0:0"},
		{"dualstack", "udp", "[::]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx, ar := listen(t, tt.network, tt.bind, Config{})
			tx, at := listen(t, tt.network, tt.bind, Config{})
			srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
			dsts := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.5")}
			const perGroup = 10
			var msgs []Message
			for g := range 4 {
				for range perGroup {
					seq := uint32(len(msgs))
					msgs = append(msgs, Message{
						Buffer: payload(make([]byte, 1000), seq),
						Addr:   netip.AddrPortFrom(dsts[g/2], ar.Port()),
						Local:  srcs[g%2],
					})
				}
			}
			runs := planRuns(msgs, true, maxGSOSegments, maxGSOBytes, len(msgs), nil)
			if len(runs) != 4 {
				t.Fatalf("plan %v: want one run per (source, destination) group", runs)
			}
			if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			seen, from, to := receiveAll(t, rx, rx.uc, len(msgs), func(uint32) int { return 1000 })
			for seq := range msgs {
				if seen[uint32(seq)] != 1 {
					t.Fatalf("datagram %d arrived %d times", seq, seen[uint32(seq)])
				}
			}
			for _, src := range srcs {
				if got := from[netip.AddrPortFrom(src, at.Port())]; got != 2*perGroup {
					t.Fatalf("%d datagrams from %s, want %d (all sources: %v)", got, src, 2*perGroup, from)
				}
			}
			for _, dst := range dsts {
				if to[dst] != 2*perGroup {
					t.Fatalf("%d datagrams to %s, want %d (all: %v)", to[dst], dst, 2*perGroup, to)
				}
			}
		})
	}
}

// TestBoundLocal checks where Message.Local comes from on read: a socket
// bound to a specific address asks for no packet-info control message (its
// address is every datagram's destination) and reports that address, IPv4
// unmapped; a wildcard or transparent socket asks for packet info and
// reports each datagram's destination from it.
func TestBoundLocal(t *testing.T) {
	tests := []struct {
		name        string
		family      int
		bind        string
		transparent bool
		dst         string // where the sender sends to
		pktinfo     bool
	}{
		{"ipv4/specific", unix.AF_INET, "127.0.0.1", false, "127.0.0.1", false},
		{"ipv6/specific", unix.AF_INET6, "::1", false, "::1", false},
		{"dualstack/v4-mapped", unix.AF_INET6, "::ffff:127.0.0.1", false, "127.0.0.1", false},
		{"ipv4/wildcard", unix.AF_INET, "0.0.0.0", false, "127.0.0.4", true},
		{"dualstack/wildcard", unix.AF_INET6, "::", false, "127.0.0.4", true},
		{"ipv6/wildcard", unix.AF_INET6, "::", false, "::1", true},
		{"ipv4/transparent", unix.AF_INET, "127.0.0.1", true, "127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uc := boundSocket(t, tt.family, netip.MustParseAddr(tt.bind), tt.transparent)
			rx, err := New(uc, Config{})
			if err != nil {
				uc.Close()
				t.Fatal(err)
			}
			defer rx.Close()
			level, opt := unix.IPPROTO_IP, unix.IP_PKTINFO
			if tt.family == unix.AF_INET6 {
				level, opt = unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO
			}
			if asked := sockoptInt(t, uc, level, opt) != 0; asked != tt.pktinfo {
				t.Fatalf("packet info asked = %v, want %v", asked, tt.pktinfo)
			}

			dst := netip.MustParseAddr(tt.dst)
			network, from := "udp4", "127.0.0.1:0"
			if dst.Is6() {
				network, from = "udp6", "[::1]:0"
			}
			tx, _ := listen(t, network, from, Config{})
			to := netip.AddrPortFrom(dst, uc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			if n, err := tx.WriteBatch([]Message{{Buffer: payload(make([]byte, 100), 7), Addr: to}}); n != 1 || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			_, _, got := receiveAll(t, rx, uc, 1, func(uint32) int { return 100 })
			if got[dst] != 1 {
				t.Fatalf("datagram to %s reported as sent to %v", dst, got)
			}
		})
	}
}

// boundSocket returns a UDPConn over a socket of the given family bound to
// addr (port chosen by the kernel), made transparent first if asked; it
// skips the test where the kernel or the process's privileges refuse.
func boundSocket(t *testing.T, family int, addr netip.Addr, transparent bool) *net.UDPConn {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	f := os.NewFile(uintptr(fd), "udp")
	defer f.Close() // FilePacketConn works on a duplicate
	if transparent {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1); err != nil {
			t.Skipf("IP_TRANSPARENT needs CAP_NET_ADMIN: %v", err)
		}
	}
	var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: addr.As16()}
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Addr: addr.As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		t.Skipf("bind %s: %v", addr, err)
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return pc.(*net.UDPConn)
}

// sockoptInt reads an integer socket option of uc.
func sockoptInt(t *testing.T, uc *net.UDPConn, level, opt int) int {
	t.Helper()
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}
