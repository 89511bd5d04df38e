package batchio

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Control messages are built and parsed by hand in preallocated buffers
// (unix.ParseSocketControlMessage allocates a slice per call).

var (
	// cmsgDataOff is CMSG_DATA's offset from the header (CMSG_LEN(0)).
	cmsgDataOff = unix.CmsgLen(0)
	// segmentCmsgSpace is CMSG_SPACE(sizeof(__u16)): one UDP_SEGMENT.
	segmentCmsgSpace = unix.CmsgSpace(2)
	// pktinfoCmsgSpace holds the larger packet-info message, IPV6_PKTINFO
	// (struct in6_pktinfo, RFC 3542 §6.1; struct in_pktinfo is smaller).
	pktinfoCmsgSpace = unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	// sendCmsgSpace is the control buffer of one send: UDP_SEGMENT and a
	// source address.
	sendCmsgSpace = segmentCmsgSpace + pktinfoCmsgSpace
	// recvCmsgSpace holds what a receive can carry: UDP_GRO (an int,
	// net/ipv4/udp.c udp_cmsg_recv), SO_RXQ_OVFL (a __u32, net/socket.c
	// sock_recv_drops) and the destination address. An IPv4 peer of a
	// dual-stack socket gets it twice, IPV6_PKTINFO (v4-mapped) and then
	// IP_PKTINFO (net/ipv6/udp.c udpv6_recvmsg), so both are counted.
	recvCmsgSpace = unix.CmsgSpace(4) + unix.CmsgSpace(4) + pktinfoCmsgSpace +
		unix.CmsgSpace(unix.SizeofInet4Pktinfo)
)

// recvMeta is what the control messages of one receive say.
type recvMeta struct {
	seg     int        // UDP_GRO segment size, 0 when absent
	drops   uint32     // SO_RXQ_OVFL counter, valid when dropsOK
	dropsOK bool       //
	local   netip.Addr // destination address, zero when absent
}

// cmsgAlign rounds n up to the cmsg alignment (CMSG_ALIGN: sizeof(long)).
func cmsgAlign(n int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}

// putSegmentCmsg writes a UDP_SEGMENT control message carrying the GSO
// segment size into b (len(b) >= segmentCmsgSpace, b cmsg-aligned) and
// returns its length. The kernel accepts it only with cmsg_len exactly
// CMSG_LEN(sizeof(__u16)) (net/ipv4/udp.c __udp_cmsg_send).
func putSegmentCmsg(b []byte, size uint16) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[cmsgDataOff:], size)
	return segmentCmsgSpace
}

// putPktinfoCmsg writes into b (len(b) >= pktinfoCmsgSpace, cmsg-aligned)
// the control message that makes a send leave from local, for a socket of
// the given family, and returns its length: IP_PKTINFO's ipi_spec_dst
// (ip(7)) on AF_INET, IPV6_PKTINFO (RFC 3542 §6.1; IPv4 v4-mapped, which
// net/ipv4/ip_sockglue.c ip_cmsg_send accepts for a dual-stack socket) on
// AF_INET6. It returns 0 when the family cannot carry local.
func putPktinfoCmsg(b []byte, family int, local netip.Addr) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	data := b[cmsgDataOff:]
	switch {
	case family == unix.AF_INET && local.Unmap().Is4():
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		clear(data[:unix.SizeofInet4Pktinfo])
		a := local.Unmap().As4()
		copy(data[4:8], a[:]) // ipi_spec_dst
		return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	case family == unix.AF_INET6 && local.IsValid():
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		clear(data[:unix.SizeofInet6Pktinfo])
		a := local.As16()
		copy(data[:16], a[:])
		return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	}
	return 0
}

// parseRecvCmsgs walks the control messages of one receive (b cmsg-aligned)
// and returns what they say. Malformed input ends the walk.
func parseRecvCmsgs(b []byte) (m recvMeta) {
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < cmsgDataOff || l > len(b) {
			break
		}
		data := b[cmsgDataOff:l]
		switch {
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			m.seg = int(int32(binary.NativeEndian.Uint32(data)))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			m.drops, m.dropsOK = binary.NativeEndian.Uint32(data), true
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			m.local = netip.AddrFrom4([4]byte(data[8:12])) // ipi_addr
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			m.local = netip.AddrFrom16([16]byte(data[:16])).Unmap()
		}
		next := cmsgAlign(l)
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return m
}
