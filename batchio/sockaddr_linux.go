package batchio

import (
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Addresses cross the kernel boundary as raw sockaddrs in preallocated
// storage (a RawSockaddrInet6, which also holds a RawSockaddrInet4), parsed
// and built by hand: no net.UDPAddr and no allocation per datagram. A zone
// (the scope of an IPv6 link-local address) is translated through a
// zoneCache, so a link-local peer costs neither an allocation (receive) nor
// an interface lookup (send) per datagram in steady state.

// putPort stores port in network byte order (RFC 1700) at *p.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// getPort loads a network-byte-order port from *p.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// encodeSockaddr writes ap into sa as a sockaddr of a socket of the given
// family and returns its length, or 0 when the socket cannot reach ap (an
// invalid address, or IPv6 on an AF_INET socket). On an AF_INET6 socket an
// IPv4 address becomes v4-mapped (RFC 4291 §2.5.5.2), which a dual-stack
// socket sends as IPv4.
func encodeSockaddr(sa *unix.RawSockaddrInet6, family int, ap netip.AddrPort, zc *zoneCache) uint32 {
	a := ap.Addr()
	switch family {
	case unix.AF_INET:
		a = a.Unmap()
		if !a.Is4() {
			return 0
		}
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		putPort(&s4.Port, ap.Port())
		s4.Addr = a.As4()
		s4.Zero = [8]uint8{}
		return unix.SizeofSockaddrInet4
	case unix.AF_INET6:
		if !a.IsValid() {
			return 0
		}
		sa.Family = unix.AF_INET6
		putPort(&sa.Port, ap.Port())
		sa.Flowinfo = 0
		sa.Addr = a.As16()
		sa.Scope_id = zc.index(a.Zone())
		return unix.SizeofSockaddrInet6
	}
	return 0
}

// decodeSockaddr parses the sockaddr of length n in sa. A v4-mapped IPv6
// source comes back as IPv4, so one peer has one address whatever the
// socket's family. It returns the zero AddrPort for anything else.
func decodeSockaddr(sa *unix.RawSockaddrInet6, n uint32, zc *zoneCache) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), getPort(&s4.Port))
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if a.Is4In6() {
			a = a.Unmap()
		} else if sa.Scope_id != 0 {
			a = a.WithZone(zc.name(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// zoneCache remembers the last zone translated in one direction: a Conn's
// reader maps scope ids to names with one, its writer names to interface
// indexes with another, each under that side's mutex. Its zero value is
// empty.
type zoneCache struct {
	id   uint32
	zone string
}

// name returns the zone of scope id (> 0): its decimal form, allocated once
// per change of id (strconv keeps only ids below 100 as constants).
func (z *zoneCache) name(id uint32) string {
	if id != z.id || z.zone == "" {
		z.id, z.zone = id, strconv.FormatUint(uint64(id), 10)
	}
	return z.zone
}

// index returns the interface index of zone, looked up once per change of
// zone; a zone that names no interface is not remembered. The writer
// forgets a remembered name after a failed send, in case the interface was
// replaced.
func (z *zoneCache) index(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if zone == z.zone {
		return z.id
	}
	id := zoneIndex(zone)
	if id != 0 {
		z.id, z.zone = id, zone
	}
	return id
}

// zoneIndex maps an IPv6 zone to an interface index: numeric zones parse
// without allocating; named zones ask the kernel (rare: link-local only).
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
