package batchio

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"unsafe"

	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"golang.org/x/sys/unix"
)

// putCmsg appends one control message as the kernel lays it out.
func putCmsg(b []byte, level, typ int32, data []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(len(data)))...)
	h := (*unix.Cmsghdr)(unsafePointer(&b[start]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[start+cmsgDataOff:], data)
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func TestParseRecvCmsgs(t *testing.T) {
	tests := []struct {
		name    string
		ctrl    []byte
		seg     int
		drops   uint32
		dropsOK bool
		local   netip.Addr
	}{
		{"none", nil, 0, 0, false, netip.Addr{}},
		{"gro only", putCmsg(nil, unix.IPPROTO_UDP, unix.UDP_GRO, u32(1200)), 1200, 0, false, netip.Addr{}},
		{"drops only", putCmsg(nil, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(7)), 0, 7, true, netip.Addr{}},
		{"both", putCmsg(putCmsg(nil, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(9)), unix.IPPROTO_UDP, unix.UDP_GRO, u32(1400)), 1400, 9, true, netip.Addr{}},
		{"unknown skipped", putCmsg(putCmsg(nil, unix.IPPROTO_IP, unix.IP_TTL, u32(64)), unix.IPPROTO_UDP, unix.UDP_GRO, u32(500)), 500, 0, false, netip.Addr{}},
		{"in_pktinfo", putCmsg(nil, unix.IPPROTO_IP, unix.IP_PKTINFO, []byte{1, 0, 0, 0, 10, 0, 0, 1, 127, 0, 0, 2}), 0, 0, false, netip.MustParseAddr("127.0.0.2")},
		{"in6_pktinfo", putCmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(netip.MustParseAddr("2001:db8::9").AsSlice(), 1, 0, 0, 0)), 0, 0, false, netip.MustParseAddr("2001:db8::9")},
		{"in6_pktinfo v4-mapped", putCmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(netip.MustParseAddr("::ffff:127.0.0.3").AsSlice(), 1, 0, 0, 0)), 0, 0, false, netip.MustParseAddr("127.0.0.3")},
		{"short data ignored", putCmsg(nil, unix.IPPROTO_UDP, unix.UDP_GRO, []byte{1, 2}), 0, 0, false, netip.Addr{}},
		{"truncated header", putCmsg(nil, unix.IPPROTO_UDP, unix.UDP_GRO, u32(1200))[:unix.SizeofCmsghdr-1], 0, 0, false, netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseRecvCmsgs(tt.ctrl)
			if m.seg != tt.seg || m.drops != tt.drops || m.dropsOK != tt.dropsOK || m.local != tt.local {
				t.Fatalf("parseRecvCmsgs = %+v; want %d, %d, %v, %v", m, tt.seg, tt.drops, tt.dropsOK, tt.local)
			}
		})
	}
}

func TestPutSegmentCmsg(t *testing.T) {
	b := make([]byte, segmentCmsgSpace)
	if n := putSegmentCmsg(b, 1200); n != segmentCmsgSpace {
		t.Fatalf("length %d, want %d", n, segmentCmsgSpace)
	}
	h := (*unix.Cmsghdr)(unsafePointer(&b[0]))
	if h.Level != unix.IPPROTO_UDP || h.Type != unix.UDP_SEGMENT || int(h.Len) != unix.CmsgLen(2) {
		t.Fatalf("header %+v", *h)
	}
	if got := binary.NativeEndian.Uint16(b[cmsgDataOff:]); got != 1200 {
		t.Fatalf("segment size %d", got)
	}
}

// refCmsg is one control message as refParseCmsgs reads it.
type refCmsg struct {
	level, typ int32
	data       []byte
}

// refParseCmsgs is the slow, obvious reading of a control buffer, written
// from the kernel's definitions rather than x/sys's types: struct cmsghdr
// is a size_t cmsg_len then the ints cmsg_level and cmsg_type
// (include/linux/socket.h); a message needs its whole header, its cmsg_len
// counts the header and lies within the buffer, its data follows the
// header (CMSG_DATA), and the next message starts cmsg_len rounded up to
// sizeof(long) later (CMSG_ALIGN). Bytes too few for a header end the
// buffer. ok reports that every message was well formed; the walk stops at
// the first one that is not, keeping what came before (as the receive path
// does). meta is what the messages say, the last of each kind winning.
func refParseCmsgs(b []byte) (meta recvMeta, msgs []refCmsg, ok bool) {
	word := int(unsafe.Sizeof(uintptr(0))) // size_t and long
	hdr := word + 4 + 4
	align := func(n uint64) uint64 { return (n + uint64(word) - 1) / uint64(word) * uint64(word) }
	off := 0
	for len(b)-off >= hdr {
		var l uint64
		if word == 8 {
			l = binary.NativeEndian.Uint64(b[off:])
		} else {
			l = uint64(binary.NativeEndian.Uint32(b[off:]))
		}
		level := int32(binary.NativeEndian.Uint32(b[off+word:]))
		typ := int32(binary.NativeEndian.Uint32(b[off+word+4:]))
		if l < uint64(hdr) || l > uint64(len(b)-off) {
			return meta, msgs, false
		}
		data := b[off+int(align(uint64(hdr))) : off+int(l)]
		msgs = append(msgs, refCmsg{level, typ, data})
		switch {
		case level == unix.IPPROTO_UDP && typ == unix.UDP_GRO && len(data) >= 4: // an int
			meta.seg = int(int32(binary.NativeEndian.Uint32(data)))
		case level == unix.SOL_SOCKET && typ == unix.SO_RXQ_OVFL && len(data) >= 4: // a __u32
			meta.drops, meta.dropsOK = binary.NativeEndian.Uint32(data), true
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= 12:
			// struct in_pktinfo: int ipi_ifindex, in_addr ipi_spec_dst, in_addr ipi_addr
			meta.local = netip.AddrFrom4([4]byte(data[8:12]))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= 20:
			// struct in6_pktinfo: in6_addr ipi6_addr, int ipi6_ifindex
			meta.local = netip.AddrFrom16([16]byte(data[:16])).Unmap()
		}
		next := align(l)
		if next >= uint64(len(b)-off) {
			break
		}
		off += int(next)
	}
	return meta, msgs, true
}

// FuzzParseRecvCmsgs compares the receive path's parser with the slow
// reference above on every buffer, well formed or not: the same segment
// size, drop count and destination address. The reference is itself
// checked against x/sys/unix's allocating parser (an independent walk of
// the same layout): both accept or both reject each buffer, and when they
// accept, they find the same messages.
func FuzzParseRecvCmsgs(f *testing.F) {
	for _, seed := range cmsgSeeds() {
		fuzzseed.Add(f, seed)
	}
	f.Fuzz(func(t *testing.T, ctrl []byte) {
		// Copy into an aligned buffer, as the kernel's is.
		buf := make([]uint64, (len(ctrl)+7)/8)
		b := unsafeBytes(buf, len(ctrl))
		copy(b, ctrl)
		got := parseRecvCmsgs(b)
		want, refMsgs, refOK := refParseCmsgs(b)
		if got != want {
			t.Fatalf("parseRecvCmsgs = %+v, reference %+v", got, want)
		}

		msgs, err := unix.ParseSocketControlMessage(b)
		if (err == nil) != refOK {
			t.Fatalf("x/sys/unix: %v, reference accepts: %v", err, refOK)
		}
		if err != nil {
			return
		}
		if len(msgs) != len(refMsgs) {
			t.Fatalf("x/sys/unix finds %d messages, the reference %d", len(msgs), len(refMsgs))
		}
		for i, m := range msgs {
			r := refMsgs[i]
			if m.Header.Level != r.level || m.Header.Type != r.typ || !bytes.Equal(m.Data, r.data) {
				t.Fatalf("message %d: x/sys/unix %+v %x, reference %d/%d %x", i, m.Header, m.Data, r.level, r.typ, r.data)
			}
		}
	})
}

// cmsgSeeds are control buffers as the kernel writes them, alone, together
// and cut short: the committed corpus of FuzzParseRecvCmsgs
// and its inline seeds (go test -run FuzzParseRecvCmsgs -fuzzseeds writes them).
func cmsgSeeds() [][]byte {
	gro := putCmsg(nil, unix.IPPROTO_UDP, unix.UDP_GRO, u32(1200))
	ovfl := putCmsg(nil, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(3))
	pk4 := putCmsg(nil, unix.IPPROTO_IP, unix.IP_PKTINFO, []byte{1, 0, 0, 0, 10, 0, 0, 1, 127, 0, 0, 2})
	pk6 := putCmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(netip.MustParseAddr("2001:db8::9").AsSlice(), 1, 0, 0, 0))
	pk6m := putCmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(netip.MustParseAddr("::ffff:127.0.0.3").AsSlice(), 1, 0, 0, 0))
	all := slices.Concat(ovfl, gro, pk6m, pk4)
	return [][]byte{
		{},
		gro, ovfl, pk4, pk6,
		all,
		make([]byte, 40),
		slices.Concat(gro, pk4[:len(pk4)-4]), // last one cut short
		putCmsg(slices.Clone(gro), unix.IPPROTO_UDP, unix.UDP_GRO, []byte{7}),
		all[:len(all)-1],
		slices.Concat(ovfl, gro[:unix.SizeofCmsghdr]),          // a header whose length runs past the buffer
		slices.Concat(gro, make([]byte, unix.SizeofCmsghdr-1)), // trailing bytes, too few for a header
	}
}

// TestPktinfoRoundTrip writes the source-address control message for each
// family and checks the receive parser reads the same address back from the
// kernel's layout (ipi_spec_dst and ipi_addr share in_pktinfo; the send
// side sets spec_dst, so the IPv4 check reads it directly).
func TestPktinfoRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		family int
		local  string
		ok     bool
	}{
		{"v4 on v4", unix.AF_INET, "127.0.0.2", true},
		{"v4-mapped on v4", unix.AF_INET, "::ffff:127.0.0.2", true},
		{"v6 on v4", unix.AF_INET, "::1", false},
		{"v6 on v6", unix.AF_INET6, "2001:db8::1", true},
		{"v4 on dual-stack", unix.AF_INET6, "127.0.0.2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]uint64, pktinfoCmsgSpace/8+1)
			b := unsafeBytes(buf, pktinfoCmsgSpace)
			local := netip.MustParseAddr(tt.local)
			n := putPktinfoCmsg(b, tt.family, local)
			if (n > 0) != tt.ok {
				t.Fatalf("putPktinfoCmsg = %d, want ok=%v", n, tt.ok)
			}
			if !tt.ok {
				return
			}
			if tt.family == unix.AF_INET {
				if got := netip.AddrFrom4([4]byte(b[cmsgDataOff+4 : cmsgDataOff+8])); got != local.Unmap() {
					t.Fatalf("ipi_spec_dst %s, want %s", got, local)
				}
				return
			}
			if got := parseRecvCmsgs(b[:n]).local; got != local.Unmap() {
				t.Fatalf("parsed back %s, want %s", got, local)
			}
		})
	}
}

func TestSockaddrRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		family int
		in     string
		want   string // "" : not encodable
	}{
		{"v4 on v4", unix.AF_INET, "127.0.0.1:443", "127.0.0.1:443"},
		{"v4-mapped on v4", unix.AF_INET, "[::ffff:10.0.0.1]:1", "10.0.0.1:1"},
		{"v6 on v4", unix.AF_INET, "[::1]:443", ""},
		{"v6 on v6", unix.AF_INET6, "[2001:db8::1]:65535", "[2001:db8::1]:65535"},
		{"v4 on dual-stack comes back v4", unix.AF_INET6, "192.0.2.7:9", "192.0.2.7:9"},
		{"numeric zone", unix.AF_INET6, "[fe80::1%3]:80", "[fe80::1%3]:80"},
		{"port 0", unix.AF_INET6, "[::1]:0", "[::1]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sa unix.RawSockaddrInet6
			var zc zoneCache
			n := encodeSockaddr(&sa, tt.family, netip.MustParseAddrPort(tt.in), &zc)
			if tt.want == "" {
				if n != 0 {
					t.Fatalf("encoded %s for family %d", tt.in, tt.family)
				}
				return
			}
			if got := decodeSockaddr(&sa, n, &zc); got != netip.MustParseAddrPort(tt.want) {
				t.Fatalf("round trip of %s = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	if n := encodeSockaddr(new(unix.RawSockaddrInet6), unix.AF_INET6, netip.AddrPort{}, new(zoneCache)); n != 0 {
		t.Fatal("encoded the zero AddrPort")
	}
	if got := decodeSockaddr(new(unix.RawSockaddrInet6), unix.SizeofSockaddrInet6, new(zoneCache)); got.IsValid() {
		t.Fatalf("decoded AF_UNSPEC as %s", got)
	}
}

// TestSockaddrZeroAlloc checks that translating a peer's address costs no
// allocation per datagram in steady state, link-local peers included: a
// scope id past the small integers strconv keeps as constants on receive,
// and an interface name (resolved through netlink) on send.
func TestSockaddrZeroAlloc(t *testing.T) {
	for _, in := range []string{"[2001:db8::1]:443", "[fe80::1%3]:443", "[fe80::1%4000]:443", "[fe80::1%lo]:443"} {
		t.Run(in, func(t *testing.T) {
			var sa unix.RawSockaddrInet6
			var rz, wz zoneCache
			ap := netip.MustParseAddrPort(in)
			round := func() { decodeSockaddr(&sa, encodeSockaddr(&sa, unix.AF_INET6, ap, &wz), &rz) }
			round()
			if a := testing.AllocsPerRun(100, round); a != 0 {
				t.Fatalf("%v allocations", a)
			}
		})
	}
}

// TestZoneCache checks that the one-entry caches translate every zone right
// when zones alternate, and never remember a name that is no interface.
func TestZoneCache(t *testing.T) {
	var rz, wz zoneCache
	for _, tt := range []struct {
		id   uint32
		zone string
	}{{5, "5"}, {4000, "4000"}, {5, "5"}, {4000, "4000"}, {4001, "4001"}} {
		if got := rz.name(tt.id); got != tt.zone {
			t.Fatalf("name(%d) = %q, want %q", tt.id, got, tt.zone)
		}
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no lo: %v", err)
	}
	for _, tt := range []struct {
		zone string
		id   uint32
	}{{"lo", uint32(lo.Index)}, {"7", 7}, {"lo", uint32(lo.Index)}, {"", 0}, {"no-such-if0", 0}, {"no-such-if0", 0}, {"lo", uint32(lo.Index)}} {
		if got := wz.index(tt.zone); got != tt.id {
			t.Fatalf("index(%q) = %d, want %d", tt.zone, got, tt.id)
		}
		if wz.zone == "no-such-if0" {
			t.Fatal("remembered a zone that names no interface")
		}
	}
}
