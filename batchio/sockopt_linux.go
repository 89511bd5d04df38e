package batchio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sockSetup is what setupSocket found and configured on a socket.
type sockSetup struct {
	family        int // AF_INET or AF_INET6
	gso, gro, rxq bool
	pktinfo       bool // destination addresses are reported
	rcvbuf        int  // SO_RCVBUF as granted
	sndbuf        int  // SO_SNDBUF as granted
}

// setupSocket checks that fd is a UDP socket, sizes its buffers, and turns
// on the offloads cfg allows and the kernel has.
func setupSocket(fd int, cfg Config) (sockSetup, error) {
	var s sockSetup
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return s, os.NewSyscallError("getsockopt", err)
	}
	if typ != unix.SOCK_DGRAM {
		return s, fmt.Errorf("batchio: socket type %d is not SOCK_DGRAM", typ)
	}
	if s.family, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
		return s, os.NewSyscallError("getsockopt", err)
	}
	if s.family != unix.AF_INET && s.family != unix.AF_INET6 {
		return s, fmt.Errorf("batchio: socket family %d is not AF_INET or AF_INET6", s.family)
	}
	s.rcvbuf = setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, cfg.RecvBufferSize)
	s.sndbuf = setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, cfg.SendBufferSize)
	if !cfg.DisableGSO {
		// Reading UDP_SEGMENT succeeds iff the kernel knows the option
		// (Linux >= 4.18, net/ipv4/udp.c udp_lib_getsockopt).
		_, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		s.gso = err == nil
	}
	if !cfg.DisableGRO {
		s.gro = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil // Linux >= 5.0
	} else {
		// A socket handed over with GRO on would overflow small slots.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 0)
	}
	s.rxq = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) == nil
	// Destination addresses of received datagrams (ip(7), RFC 3542 §6.1);
	// a dual-stack socket needs both for its IPv4 peers.
	s.pktinfo = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1) == nil
	if s.family == unix.AF_INET6 {
		s.pktinfo = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1) == nil
	}
	return s, nil
}

// setBuffer asks for size bytes with the privileged option (which ignores
// net.core.{r,w}mem_max) and falls back to the capped one, then returns
// what the kernel reports. size < 0 leaves the buffer alone.
func setBuffer(fd, force, plain, size int) int {
	if size > 0 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size)
		}
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, plain)
	if err != nil {
		return 0
	}
	return got
}
