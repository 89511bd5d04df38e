package secure

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// CookieRotation is how often a responder replaces its cookie secret
// (WireGuard's COOKIE_SECRET_MAX_AGE, whitepaper section 5.4.7). A cookie
// verifies under the secret of its time bucket and the one after, so it is
// good for between one and two rotations; an initiator drops a cookie it
// has held for one rotation (CookieLifetime).
const CookieRotation = 2 * time.Minute

// CookieLifetime is how long an initiator keeps using a cookie.
const CookieLifetime = CookieRotation

// CookieMode says when a responder asks for a retry cookie before it keeps
// any state for an initiation.
type CookieMode uint8

const (
	// CookieUnderLoad (the zero value) asks for cookies while more than
	// ResponderConfig.LoadThreshold handshakes are pending.
	CookieUnderLoad CookieMode = iota
	// CookieAlways asks every initiation without a valid cookie for one:
	// one extra round trip always, no state ever for an unproven address.
	CookieAlways
	// CookieNever never asks.
	CookieNever
)

func (m CookieMode) String() string {
	switch m {
	case CookieUnderLoad:
		return "under-load"
	case CookieAlways:
		return "always"
	case CookieNever:
		return "never"
	}
	return fmt.Sprintf("CookieMode(%d)", uint8(m))
}

// cookieSecrets is one bucket's view: immutable once published.
type cookieSecrets struct {
	bucket  int64
	cur     [32]byte
	prev    [32]byte
	hasPrev bool // prev is the secret of bucket-1
}

// cookieJar makes and checks cookies: cookie = MAC(secret of the time
// bucket, source IP and port). It keeps no state per address; the secret
// rotates every CookieRotation, on the first use in a new bucket.
//
// Guard map: rand is immutable; state is an atomic pointer to an immutable
// cookieSecrets, replaced by compare-and-swap.
type cookieJar struct {
	rand  io.Reader
	state atomic.Pointer[cookieSecrets]
}

func (j *cookieJar) secrets(now monotime.Time) *cookieSecrets {
	bucket := int64(now) / int64(CookieRotation)
	for {
		s := j.state.Load()
		if s != nil && s.bucket >= bucket {
			return s
		}
		n := &cookieSecrets{bucket: bucket}
		if s != nil && s.bucket == bucket-1 {
			n.prev, n.hasPrev = s.cur, true
		}
		if _, err := io.ReadFull(j.rand, n.cur[:]); err != nil {
			// crypto/rand does not fail on supported platforms (its doc);
			// a test reader that runs dry is a test bug.
			panic("secure: cookie secret: " + err.Error())
		}
		if j.state.CompareAndSwap(s, n) {
			return n
		}
	}
}

// addrBytes is the MAC input of a source address: 16 bytes of IP (IPv4 as
// mapped) and 2 of port.
func addrBytes(a netip.AddrPort) (b [18]byte) {
	ip := a.Addr().As16()
	copy(b[:16], ip[:])
	binary.BigEndian.PutUint16(b[16:], a.Port())
	return b
}

func cookieFor(secret *[32]byte, from netip.AddrPort) (c [macSize]byte) {
	ab := addrBytes(from)
	mac(&c, secret[:], ab[:])
	return c
}

// checkMAC2 reports whether msg's mac2 (its last 16 bytes) was made with a
// cookie for from under the current or previous bucket's secret.
func (j *cookieJar) checkMAC2(msg []byte, from netip.AddrPort, now monotime.Time) bool {
	s := j.secrets(now)
	at := len(msg) - macSize
	c := cookieFor(&s.cur, from)
	if checkMAC(c[:], msg, at) {
		return true
	}
	if !s.hasPrev {
		return false
	}
	c = cookieFor(&s.prev, from)
	return checkMAC(c[:], msg, at)
}

// appendCookieReply appends a cookie reply to the initiation msg from
// from: the cookie sealed with XChaCha20-Poly1305 under HASH("cookie--" ||
// responder's static key), with the initiation's mac1 as associated data,
// so only a party that saw the initiation can forge or use the reply
// (WireGuard whitepaper section 5.4.7).
func (j *cookieJar) appendCookieReply(dst, msg []byte, key *[32]byte, from netip.AddrPort, now monotime.Time) []byte {
	s := j.secrets(now)
	c := cookieFor(&s.cur, from)
	dst = appendHeader(dst, typeCookieReply)
	dst = append(dst, msg[5+1:5+1+ConnIDSize]...) // the initiation's scid
	nonceAt := len(dst)
	dst = append(dst, make([]byte, cookieNonceLen)...)
	if _, err := io.ReadFull(j.rand, dst[nonceAt:]); err != nil {
		panic("secure: cookie nonce: " + err.Error())
	}
	aead, _ := chacha20poly1305.NewX(key[:])
	mac1 := msg[len(msg)-2*macSize : len(msg)-macSize]
	return aead.Seal(dst, dst[nonceAt:nonceAt+cookieNonceLen], c[:], mac1)
}

// openCookieReply returns the cookie in reply, which must answer an
// initiation whose mac1 was mac1.
func openCookieReply(reply []byte, key *[32]byte, mac1 []byte) ([macSize]byte, error) {
	var c [macSize]byte
	if len(reply) != CookieReplyLen || !IsCookieReply(reply) {
		return c, ErrMalformed
	}
	aead, _ := chacha20poly1305.NewX(key[:])
	nonce := reply[respHeaderLen : respHeaderLen+cookieNonceLen]
	out, err := aead.Open(c[:0], nonce, reply[respHeaderLen+cookieNonceLen:], mac1)
	if err != nil || len(out) != macSize {
		return c, ErrDecrypt
	}
	return c, nil
}

// constantTimeZero reports whether b is all zeros, in constant time.
func constantTimeZero(b []byte) bool {
	var zero [macSize]byte
	return len(b) == macSize && subtle.ConstantTimeCompare(b, zero[:]) == 1
}
