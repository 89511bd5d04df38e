package batchio

import (
	"encoding/binary"
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
	// recvCmsgSpace holds what a receive can carry: UDP_GRO (an int,
	// net/ipv4/udp.c udp_cmsg_recv) and SO_RXQ_OVFL (a __u32,
	// net/socket.c sock_recv_drops).
	recvCmsgSpace = unix.CmsgSpace(4) + unix.CmsgSpace(4)
)

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

// parseRecvCmsgs walks the control messages of one receive (b cmsg-aligned)
// and returns the UDP_GRO segment size (0 when absent) and the SO_RXQ_OVFL
// drop counter (ok false when absent). Malformed input ends the walk.
func parseRecvCmsgs(b []byte) (seg int, drops uint32, ok bool) {
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < cmsgDataOff || l > len(b) {
			break
		}
		data := b[cmsgDataOff:l]
		switch {
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			seg = int(int32(binary.NativeEndian.Uint32(data)))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			drops, ok = binary.NativeEndian.Uint32(data), true
		}
		next := cmsgAlign(l)
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return seg, drops, ok
}
