package batchio

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockSetup is what setupSocket found and configured on a socket.
type sockSetup struct {
	family   int // AF_INET or AF_INET6
	gso, gro bool
	meminfo  bool       // the drop counter is read with SO_MEMINFO (socketDrops)
	rxq      bool       // else: reported per datagram with SO_RXQ_OVFL
	pktinfo  bool       // destination addresses come per datagram (IP_PKTINFO/IPV6_RECVPKTINFO)
	local    netip.Addr // the specific address the socket is bound to; zero when pktinfo
	df       bool       // DF set, no fragmentation (IP_PMTUDISC_PROBE)
	rcvbuf   int        // SO_RCVBUF as granted
	sndbuf   int        // SO_SNDBUF as granted
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
	// Receive-queue drops: the kernel's sk_drops counter. SO_MEMINFO
	// reads it on demand (Conn.Stats); SO_RXQ_OVFL would make the kernel
	// attach it to every received datagram (net/socket.c
	// __sock_recv_cmsgs), about 7% of the receive path's cost per
	// datagram (BenchmarkReceive/mmsg), so it is the fallback for kernels
	// whose SO_MEMINFO predates SK_MEMINFO_DROPS, and turned off (it may
	// come on with a handed-over socket) otherwise.
	if _, err := socketDrops(fd); err == nil {
		s.meminfo = true
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 0)
	} else {
		s.rxq = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) == nil
	}
	// The destination address of each received datagram. A socket bound to
	// a specific address receives only datagrams addressed to it (the
	// kernel's socket lookup matches the bound address, net/ipv4/udp.c
	// compute_score), so that address is every datagram's destination and
	// asking the kernel to build, copy out and have us parse a control
	// message per datagram for it would be wasted work. Only a wildcard
	// socket, or a transparent one (IP_TRANSPARENT, ip(7): TPROXY hands it
	// datagrams for foreign addresses), asks for packet info.
	if s.local = boundAddr(fd, s.family); !s.local.IsValid() {
		s.pktinfo = enablePktinfo(fd, s.family)
	}
	s.df = setDontFragment(fd, s.family)
	return s, nil
}

// boundAddr returns the specific address fd is bound to (IPv4 never
// v4-mapped), or the zero Addr when it is bound to a wildcard address, not
// bound yet, transparent, or the kernel cannot say.
func boundAddr(fd, family int) netip.Addr {
	transparent := unix.IP_TRANSPARENT
	level := unix.IPPROTO_IP
	if family == unix.AF_INET6 {
		level, transparent = unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT
	}
	if on, err := unix.GetsockoptInt(fd, level, transparent); err != nil || on != 0 {
		return netip.Addr{}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}
	}
	var a netip.Addr
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		a = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		a = netip.AddrFrom16(sa.Addr).Unmap()
	}
	if !a.IsValid() || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// setDontFragment sets DF on every datagram and turns fragmentation off
// (RFC 9000 section 14: UDP datagrams of QUIC MUST NOT be fragmented), and
// reports whether the kernel agreed. IP_PMTUDISC_PROBE (ip(7)) sets DF but
// ignores the path MTU the kernel cached from ICMP: a path MTU probe larger
// than a stale cached value still leaves, and the session's search, not
// ICMP, decides (RFC 8899 section 4.6.1 treats ICMP as a hint); a datagram
// above the interface's MTU is refused with EMSGSIZE. quic-go sets the same
// options (sys_conn_df_linux.go). A dual-stack IPv6 socket needs both, for
// its IPv4 peers.
func setDontFragment(fd, family int) bool {
	ok := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE) == nil
	if family == unix.AF_INET6 {
		ok = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE) == nil
	}
	return ok
}

// enablePktinfo asks for the destination address of every received
// datagram (ip(7) IP_PKTINFO, RFC 3542 §6.1 IPV6_RECVPKTINFO) and reports
// whether the kernel agreed; a dual-stack socket needs both for its IPv4
// peers.
func enablePktinfo(fd, family int) bool {
	ok := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1) == nil
	if family == unix.AF_INET6 {
		ok = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1) == nil
	}
	return ok
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

// The socket memory counters SO_MEMINFO returns, in the kernel's order
// (include/uapi/linux/sock_diag.h): SK_MEMINFO_DROPS is the index of
// sk_drops, the counter SO_RXQ_OVFL reports; skMeminfoVars is how many
// counters a kernel that has it returns at least.
const (
	skMeminfoDrops = 8
	skMeminfoVars  = skMeminfoDrops + 1
)

// errNoMeminfoDrops reports a kernel whose SO_MEMINFO has no drop counter.
var errNoMeminfoDrops = errors.New("batchio: SO_MEMINFO without SK_MEMINFO_DROPS")

// socketDrops reads fd's receive-queue drop counter (sk_drops) with
// getsockopt(SO_MEMINFO) (socket(7)): one system call, no allocation.
func socketDrops(fd int) (uint32, error) {
	var info [skMeminfoVars]uint32
	size := uint32(unsafe.Sizeof(info))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 {
		return 0, os.NewSyscallError("getsockopt", e)
	}
	if size < uint32(unsafe.Sizeof(info)) {
		return 0, errNoMeminfoDrops
	}
	return info[skMeminfoDrops], nil
}
