package secure

import (
	"crypto/subtle"
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/blake2s"
)

// Handshake datagrams. Their first byte follows core/wire's convention:
// bit 7 (form) set marks a handshake packet, bit 6 is the fixed bit, the low
// bits are the type; wire never looks further. Layouts (sizes in bytes):
//
//	Initiation   flags(1) version(4) suite(1) scid(8) | noise1 | mac1(16) mac2(16)
//	Response     flags(1) version(4) dcid(8)          | noise2 | mac1(16) mac2(16)
//	CookieReply  flags(1) version(4) dcid(8) nonce(24) sealed-cookie(16+16)
//
// noise1 is Noise IK's first message: e (32), s sealed (32+16), payload
// sealed (12-byte timestamp + the initiator's payload, +16). noise2 is the
// second: e (32), payload sealed (1-byte status + the responder's payload,
// +16). scid is the connection id the initiator chose for packets sent to
// it; the response and cookie reply carry it back as dcid so the initiator
// finds its handshake. The Initiation's clear fields are the Noise
// prologue, so changing any of them (a suite downgrade, a swapped cid) fails
// the handshake. mac1 and mac2 are as WireGuard's (whitepaper section 5.4.4):
// mac1 = MAC(HASH("mac1----" || receiver's static public key), message up
// to mac1) lets the receiver drop a message not meant for it before any
// Diffie-Hellman; mac2 = MAC(cookie, message up to mac2) proves the sender
// can receive at its source address. MAC is keyed BLAKE2s-128, HASH is
// BLAKE2s-256.
const (
	formHandshake = 0x80 // core/wire FormHandshake
	fixedBit      = 0x40 // core/wire FixedBit

	typeInitiation  = 1
	typeResponse    = 2
	typeCookieReply = 3

	// Version is the handshake protocol version this package speaks.
	Version uint32 = 1

	// ConnIDSize is the size of a connection id (core/wire ConnID).
	ConnIDSize = 8

	macSize        = 16
	tsSize         = len(Timestamp{})
	initHeaderLen  = 1 + 4 + 1 + ConnIDSize
	respHeaderLen  = 1 + 4 + ConnIDSize
	noise1Overhead = 32 + 32 + 16 + 16 + tsSize
	noise2Overhead = 32 + 16 + 1
	cookieNonceLen = 24
	// CookieReplyLen is the size of a cookie reply.
	CookieReplyLen = respHeaderLen + cookieNonceLen + macSize + 16

	// MinInitiationLen is the size of an initiation with an empty payload.
	MinInitiationLen = initHeaderLen + noise1Overhead + 2*macSize
	// MinResponseLen is the size of a response with an empty payload.
	MinResponseLen = respHeaderLen + noise2Overhead + 2*macSize

	// MaxPayload bounds each side's handshake payload (its connection id and
	// transport parameters), so a handshake datagram stays within the
	// 1200-byte datagram every path must carry (DESIGN.md).
	MaxPayload = 1200 - MinInitiationLen

	statusAccepted = 0
)

// ConnID is a connection id as the handshake carries it (core/wire ConnID
// has the same bytes).
type ConnID [ConnIDSize]byte

var (
	labelMAC1   = []byte("mac1----")
	labelCookie = []byte("cookie--")
	prologue    = []byte("petrel handshake v1")
)

// derivedKey returns HASH(label || pub), the key of mac1 or of the cookie
// reply's AEAD for the static key pub.
func derivedKey(label []byte, pub *PublicKey) (k [32]byte) {
	h, _ := blake2s.New256(nil)
	h.Write(label)
	h.Write(pub[:])
	h.Sum(k[:0])
	return k
}

// mac computes the keyed BLAKE2s-128 of data into out.
func mac(out *[macSize]byte, key []byte, data ...[]byte) {
	var h hash.Hash
	h, err := blake2s.New128(key)
	if err != nil {
		panic("secure: mac key: " + err.Error()) // keys are 16 or 32 bytes by construction
	}
	for _, d := range data {
		h.Write(d)
	}
	h.Sum(out[:0])
}

// checkMAC reports whether the mac at msg[at:at+16] is the MAC under key of
// msg[:at], in constant time.
func checkMAC(key []byte, msg []byte, at int) bool {
	var want [macSize]byte
	mac(&want, key, msg[:at])
	return subtle.ConstantTimeCompare(want[:], msg[at:at+macSize]) == 1
}

func handshakeType(b []byte) int {
	if len(b) < 5 || b[0]&(formHandshake|fixedBit) != formHandshake|fixedBit || b[0]&0x30 != 0 {
		return 0
	}
	if binary.BigEndian.Uint32(b[1:5]) != Version {
		return 0
	}
	return int(b[0] & 0x0f)
}

func appendHeader(dst []byte, typ byte) []byte {
	dst = append(dst, formHandshake|fixedBit|typ)
	return binary.BigEndian.AppendUint32(dst, Version)
}

// IsInitiation, IsResponse and IsCookieReply classify a handshake datagram
// by its first five bytes (type and version), so a node can route it before
// any cryptography.
func IsInitiation(b []byte) bool  { return handshakeType(b) == typeInitiation }
func IsResponse(b []byte) bool    { return handshakeType(b) == typeResponse }
func IsCookieReply(b []byte) bool { return handshakeType(b) == typeCookieReply }

// DestConnID returns the connection id a response or cookie reply is
// addressed to (the initiator's), for the initiator to find its handshake.
func DestConnID(b []byte) (ConnID, bool) {
	t := handshakeType(b)
	if (t != typeResponse && t != typeCookieReply) || len(b) < respHeaderLen {
		return ConnID{}, false
	}
	return ConnID(b[5:respHeaderLen]), true
}
