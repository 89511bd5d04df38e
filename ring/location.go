package ring

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	randv2 "math/rand/v2"
	"net/netip"
	"strconv"
)

// Location is a point on the ring [0, 1) in 0.64 fixed point: the ring
// position is Location / 2^64. It is a plain integer, so ==, hashing (as a map
// key) and ordering all agree; there is no epsilon anywhere. The zero value is
// the point 0.
type Location uint64

// HalfRing is the largest possible Distance between two locations: half the
// ring, 2^63.
const HalfRing uint64 = 1 << 63

// Distance returns the distance between a and b the shorter way round the
// ring, in units of 2^-64 of the ring. It is symmetric, zero iff a == b, at
// most HalfRing, and satisfies the triangle inequality (as a real sum; the
// uint64 sum of two distances can overflow, see [bits.Add64]).
func Distance(a, b Location) uint64 {
	d := uint64(b - a) // clockwise from a to b, mod 2^64
	if d > HalfRing {
		d = -d // counter-clockwise is shorter
	}
	return d
}

// Distance returns Distance(l, o).
func (l Location) Distance(o Location) uint64 { return Distance(l, o) }

// DistanceFloat returns Distance(a, b) as a fraction of the ring, in
// [0, 0.5]. For display and for the routing estimator only: never compare
// locations through it.
func DistanceFloat(a, b Location) float64 { return distToFloat(Distance(a, b)) }

// distToFloat converts a fixed-point distance to a fraction of the ring.
func distToFloat(d uint64) float64 { return float64(d) * 0x1p-64 }

// Float64 returns l as a fraction of the ring in [0, 1), rounded down to a
// float64 (l values near 2^64 round to below 1, never to 1).
func (l Location) Float64() float64 {
	// Keep only the top 53 bits so the conversion is exact and stays < 1.
	return float64(uint64(l)>>11) * 0x1p-53
}

// LocationFromFloat returns the Location nearest below f mod 1. NaN and
// infinities map to 0. It is the inverse of Float64 up to the 53 bits a
// float64 carries.
func LocationFromFloat(f float64) Location {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	f -= math.Floor(f) // into [0, 1)
	if f >= 1 {        // -tiny - Floor(-tiny) rounds to 1
		f = 0
	}
	return Location(uint64(f*0x1p53) << 11)
}

// String formats l as a ring fraction with 16 decimal places, e.g.
// "0.2500000000000000". It does not allocate beyond the returned string.
func (l Location) String() string {
	var buf [24]byte
	return string(strconv.AppendFloat(buf[:0], l.Float64(), 'f', 16, 64))
}

// ErrInvalidAddr is returned by LocationFromAddr for the zero netip.Addr.
var ErrInvalidAddr = errors.New("ring: invalid address")

// addrDomain separates the address hash from any other SHA-256 use, and
// versions it: changing the derivation means changing this tag.
const addrDomain = "petrel ring location v1\x00"

// LocationFromAddr derives a peer's location from its network address, so a
// peer cannot choose where on the ring it sits: every address in one IPv4 /24,
// or one IPv6 /48, gets the same location, and a sybil must control many
// networks to spread over the ring.
//
// The hash is fixed and unkeyed so that every node computes the same location
// for the same peer: the first 8 bytes (big-endian) of
// SHA-256(addrDomain || family byte (4 or 6) || prefix bytes (3 or 6)).
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as IPv4, and IPv6
// zones are ignored. It allocates nothing.
func LocationFromAddr(addr netip.Addr) (Location, error) {
	if !addr.IsValid() {
		return 0, ErrInvalidAddr
	}
	addr = addr.Unmap()
	var in [len(addrDomain) + 1 + 6]byte
	n := copy(in[:], addrDomain)
	if addr.Is4() {
		a := addr.As4()
		in[n] = 4
		n += 1 + copy(in[n+1:], a[:3]) // the /24
	} else {
		a := addr.As16()
		in[n] = 6
		n += 1 + copy(in[n+1:], a[:6]) // the /48
	}
	sum := sha256.Sum256(in[:n])
	return Location(binary.BigEndian.Uint64(sum[:8])), nil
}

// RandomLocation returns a uniformly random location from crypto/rand.
func RandomLocation() Location {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24+)
	return Location(binary.LittleEndian.Uint64(b[:]))
}

// RandomLocationFrom returns a uniformly random location drawn from src, for
// reproducible tests and simulations. src is used by the caller's goroutine
// only; math/rand/v2 sources are not safe for concurrent use.
func RandomLocationFrom(src randv2.Source) Location { return Location(src.Uint64()) }

// distSum returns a+b as a 65-bit value (carry, low), for comparisons of sums
// of distances without overflow.
func distSum(a, b uint64) (carry, sum uint64) {
	sum, carry = bits.Add64(a, b, 0)
	return carry, sum
}
