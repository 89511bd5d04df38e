package batchio

import "net/netip"

// Message is one datagram in a batch.
//
// The zero value is an empty datagram to or from the zero address.
type Message struct {
	// Buffer is the payload.
	//
	// On write it is the datagram to send; WriteBatch reads it during the
	// call only and coalesces consecutive Buffers of equal length to the
	// same Addr into one GSO send by itself.
	//
	// On read it is ignored on entry and set to a sub-slice of the Conn's
	// receive arena, valid until the next ReadBatch or Drain, or Close.
	Buffer []byte

	// Addr is the peer: the destination on write, the source on read.
	// IPv4 peers of a dual-stack socket appear as IPv4 (never v4-mapped).
	Addr netip.AddrPort

	// Local is our side's IP: on read, the destination address of the
	// datagram; on write, when valid, the source address to send from,
	// which matters on a socket bound to a wildcard address of a
	// multi-homed host (the zero Addr lets the kernel choose). IPv4 is
	// never v4-mapped.
	//
	// On Linux a socket bound to a wildcard address (or a transparent one)
	// learns each datagram's destination from the IP_PKTINFO/IPV6_PKTINFO
	// control message the kernel attaches (ipi_addr); a socket bound to a
	// specific address receives only datagrams addressed to it, so Local
	// is that address, filled in without a control message. (A BPF
	// sk_lookup program can steer other datagrams to a bound socket: bind
	// such a socket to a wildcard address.) Elsewhere the zero Addr.
	Local netip.Addr

	// SegmentSize is set on read: the UDP GRO segment size of the coalesced
	// receive this datagram was cut from, or 0 when the kernel delivered it
	// alone. It is ignored on write.
	SegmentSize int
}

// Capabilities says which offloads a Conn uses and what the kernel granted.
type Capabilities struct {
	// MMsg is true when reads and writes use recvmmsg/sendmmsg.
	MMsg bool
	// GSO is true while sends are coalesced with UDP_SEGMENT. It turns
	// false for good when the kernel answers EIO to a GSO send.
	GSO bool
	// GRO is true when the socket has UDP_GRO enabled.
	GRO bool
	// RxqOverflow is true when the kernel reports receive-queue drops, so
	// Stats.KernelDrops is meaningful: its sk_drops counter, read with
	// SO_MEMINFO, or reported per datagram with SO_RXQ_OVFL on kernels
	// whose SO_MEMINFO lacks it.
	RxqOverflow bool
	// RecvBuffer and SendBuffer are SO_RCVBUF and SO_SNDBUF as the kernel
	// reports them after configuration (Linux reports twice the usable
	// payload, see socket(7)); 0 when the platform cannot say.
	RecvBuffer, SendBuffer int
	// DontFragment is true when the kernel sends the socket's datagrams
	// with DF set and never fragments them (Linux IP_MTU_DISCOVER /
	// IPV6_MTU_DISCOVER = *_PMTUDISC_PROBE): a datagram too large for the
	// interface is refused with EMSGSIZE, one too large for the path is
	// dropped on the way, which path MTU discovery relies on (RFC 9000
	// section 14, RFC 8899 section 3).
	DontFragment bool
}
