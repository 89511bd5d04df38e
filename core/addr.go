package core

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync/atomic"
)

// Addresses in the Table are normalised: IPv4-mapped IPv6 addresses are
// unmapped (a dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d) and
// IPv6 zones are dropped (the zone is a property of the local socket, not of
// the peer). normAddr is the one place that does it.
func normAddr(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// addrKey is the address index's key: the address as IPv4-mapped IPv6 in
// two big-endian words, then the port, then a zero word (the index's keys
// are four words). It is injective over normalised addresses: IPv4 a.b.c.d is
// stored as ::ffff:a.b.c.d, and normalisation has already mapped any IPv6
// ::ffff:a.b.c.d to that same IPv4 address.
type addrKey = ikey

// keyOf returns the index key of an address. It maps addr and normAddr(addr)
// to the same key (As16 maps IPv4 to ::ffff:a.b.c.d and drops the zone), so
// the receive path need not normalise.
func keyOf(a netip.AddrPort) addrKey {
	ip := a.Addr().As16()
	return addrKey{binary.BigEndian.Uint64(ip[:8]), binary.BigEndian.Uint64(ip[8:]), uint64(a.Port()), 0}
}

// Address families stored in addrCell.meta.
const (
	famNone = 0
	famV4   = 4
	famV6   = 6
)

// addrCell holds one normalised netip.AddrPort in three atomic words so that
// the send path reads it without a lock and without the 32-byte allocation an
// atomic.Pointer[netip.AddrPort] would cost per peer. It is a sequence lock:
//
//   - seq is even when the cell is stable and odd while a writer is inside.
//     Writers enter with a CAS from even to odd (so writers exclude each
//     other), store the words, and leave by storing seq+2.
//   - Readers load seq, the words, and seq again; they retry if the two seq
//     loads differ or are odd. Go's atomics are sequentially consistent, so a
//     reader that sees the same even seq twice saw no write in between.
//
// Guard map: every field is atomic; meta packs family<<16 | port.
type addrCell struct {
	seq  atomic.Uint32
	meta atomic.Uint32
	hi   atomic.Uint64
	lo   atomic.Uint64
}

// load returns the stored address (the zero AddrPort if none). Lock-free for
// readers; it spins only while a writer is between its two seq stores.
func (c *addrCell) load() netip.AddrPort {
	for {
		s1 := c.seq.Load()
		if s1&1 != 0 {
			runtime.Gosched()
			continue
		}
		meta, hi, lo := c.meta.Load(), c.hi.Load(), c.lo.Load()
		if c.seq.Load() == s1 {
			return decodeAddr(meta, hi, lo)
		}
	}
}

// lockWriter enters the cell as its only writer and returns the even seq it
// entered at.
func (c *addrCell) lockWriter() uint32 {
	for {
		s := c.seq.Load()
		if s&1 == 0 && c.seq.CompareAndSwap(s, s+1) {
			return s
		}
		runtime.Gosched()
	}
}

// store replaces the address with a (already normalised).
func (c *addrCell) store(a netip.AddrPort) {
	s := c.lockWriter()
	meta, hi, lo := encodeAddr(a)
	c.meta.Store(meta)
	c.hi.Store(hi)
	c.lo.Store(lo)
	c.seq.Store(s + 2)
}

// clearIf empties the cell if it still holds a, and reports whether it did.
func (c *addrCell) clearIf(a netip.AddrPort) bool {
	s := c.lockWriter()
	cur := decodeAddr(c.meta.Load(), c.hi.Load(), c.lo.Load())
	if cur != a {
		c.seq.Store(s)
		return false
	}
	c.meta.Store(0)
	c.hi.Store(0)
	c.lo.Store(0)
	c.seq.Store(s + 2)
	return true
}

func encodeAddr(a netip.AddrPort) (meta uint32, hi, lo uint64) {
	ip := a.Addr()
	switch {
	case ip.Is4():
		b := ip.As4()
		return famV4<<16 | uint32(a.Port()), 0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	case ip.Is6():
		b := ip.As16()
		for i := 0; i < 8; i++ {
			hi = hi<<8 | uint64(b[i])
			lo = lo<<8 | uint64(b[8+i])
		}
		return famV6<<16 | uint32(a.Port()), hi, lo
	default:
		return 0, 0, 0
	}
}

func decodeAddr(meta uint32, hi, lo uint64) netip.AddrPort {
	port := uint16(meta)
	switch meta >> 16 {
	case famV4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)}), port)
	case famV6:
		var b [16]byte
		for i := 7; i >= 0; i-- {
			b[i], b[8+i] = byte(hi), byte(lo)
			hi >>= 8
			lo >>= 8
		}
		return netip.AddrPortFrom(netip.AddrFrom16(b), port)
	default:
		return netip.AddrPort{}
	}
}
