package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/bits"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// stormKind is a kind of hostile datagram (see stormHelp).
type stormKind int

const (
	kindRandom stormKind = iota
	kindTruncated
	kindOversized
	kindUnknownCID
	kindReplay
	kindReflect
	kindBitflip
	kindHSForged
	kindHSReplay
	kindHSFresh
	numKinds
)

func (k stormKind) String() string {
	switch k {
	case kindRandom:
		return "random"
	case kindTruncated:
		return "truncated"
	case kindOversized:
		return "oversized"
	case kindUnknownCID:
		return "unknown_cid"
	case kindReplay:
		return "replay"
	case kindReflect:
		return "reflect"
	case kindBitflip:
		return "bitflip"
	case kindHSForged:
		return "hs_forged"
	case kindHSReplay:
		return "hs_replay"
	case kindHSFresh:
		return "hs_fresh"
	}
	return fmt.Sprintf("kind%d", int(k))
}

// maxUDPPayload is the largest IPv4 UDP payload: 65535 - 20 (IP header) -
// 8 (UDP header).
const maxUDPPayload = 65507

// freshKeys is how many throwaway identities send valid initiations: each
// one the target authenticates makes a peer record there, so a bounded set
// of keys, reused, keeps the storm from growing the target's table without
// bound (that is what its budget and the replay check must handle, not an
// unbounded peer set).
const freshKeys = 256

// generator builds the storm's datagrams. Not safe for concurrent use.
type generator struct {
	c       stormConfig
	r       *mrand.Rand
	start   time.Time
	out, in [][]byte // captured to and from the target
	data    [][]byte // captured short-header datagrams to the target
	init    []byte   // the captured initiation
	maxPN   uint64   // the largest packet number of data (as on the wire)
	fresh   []*secure.KeyPair
	params  []byte
	stamper secure.Stamper
	peer    secure.PublicKey
	buf     []byte
}

func newGenerator(c stormConfig, key core.PeerKey, cp *capture) (*generator, error) {
	g := &generator{c: c, r: newRand(c.seed), peer: secure.PublicKey(key), buf: make([]byte, 0, maxUDPPayload)}
	g.out, g.in = cp.snapshot()
	for _, d := range g.out {
		switch {
		case secure.IsInitiation(d) && g.init == nil:
			g.init = d
		case !wire.IsHandshake(d):
			g.data = append(g.data, d)
			if h, _, err := wire.ParseShortHeader(d); err == nil {
				g.maxPN = max(g.maxPN, h.PN)
			}
		}
	}
	if g.init == nil || len(g.data) == 0 || len(g.in) == 0 {
		return nil, fmt.Errorf("captured %d datagrams out (initiation: %v, data: %d) and %d in: too few to storm with",
			len(g.out), g.init != nil, len(g.data), len(g.in))
	}
	for range freshKeys {
		kp, err := secure.GenerateKeyPair(rand.Reader)
		if err != nil {
			return nil, err
		}
		g.fresh = append(g.fresh, &kp)
	}
	p := wire.DefaultTransportParams()
	var err error
	if g.params, err = wire.AppendTransportParams(nil, &p); err != nil {
		return nil, err
	}
	g.start = time.Now()
	return g, nil
}

// run sends until ctx ends or --count datagrams went, paced to --rate in
// slices of a millisecond, and returns the count per kind.
func (g *generator) run(ctx context.Context, socks []*net.UDPConn, at netip.AddrPort) (sent [numKinds]uint64) {
	const slice = time.Millisecond
	perSlice := max(1, g.c.rate/1000)
	freshPerSlice := float64(g.c.freshRate) / 1000
	var freshCredit float64
	total := 0
	tick := time.NewTicker(slice)
	defer tick.Stop()
	for total < g.c.count {
		freshCredit = min(freshCredit+freshPerSlice, 16)
		for i := 0; i < perSlice && total < g.c.count; i++ {
			k := stormKind(g.r.IntN(int(numKinds)))
			if k == kindHSFresh {
				if freshCredit < 1 {
					k = kindHSReplay
				} else {
					freshCredit--
				}
			}
			d := g.build(k)
			s := socks[g.r.IntN(len(socks))]
			if _, err := s.WriteToUDPAddrPort(d, at); err != nil {
				continue // a full send buffer (ENOBUFS): not sent, not counted
			}
			sent[k]++
			total++
		}
		select {
		case <-ctx.Done():
			return sent
		case <-tick.C:
		}
	}
	return sent
}

// pick returns a random element of list.
func pick(r *mrand.Rand, list [][]byte) []byte { return list[r.IntN(len(list))] }

// build returns a datagram of kind k in g.buf.
func (g *generator) build(k stormKind) []byte {
	r := g.r
	b := g.buf[:0]
	switch k {
	case kindRandom:
		b = appendRandom(r, b, 1+r.IntN(1500))
	case kindTruncated:
		d := pick(r, g.out) // every captured datagram has more than a byte
		b = append(b, d[:1+r.IntN(len(d)-1)]...)
	case kindOversized:
		d := pick(r, g.data)
		b = append(b, d...)
		b = appendRandom(r, b, 1500+r.IntN(maxUDPPayload-1500)-len(d))
	case kindUnknownCID:
		var cid wire.ConnID
		for i := range cid {
			cid[i] = byte(r.Uint32())
		}
		n := 16 + 20 + r.IntN(1100)
		b = wire.AppendShortHeader(b, &wire.ShortHeader{DCID: cid, PN: r.Uint64N(1 << 30), PNLen: 4, Length: n})
		b = appendRandom(r, b, n-4)
	case kindReplay:
		b = append(b, pick(r, g.data)...)
	case kindReflect:
		b = append(b, pick(r, g.in)...)
	case kindBitflip:
		d := pick(r, g.data)
		h, hdrLen, err := wire.ParseShortHeader(d)
		if err != nil {
			b = append(b, d...) // not a packet after all: a replay
			break
		}
		// The packet's sealed payload with one bit flipped, under its
		// header rewritten with a 4-byte packet number far above every
		// one the session will have used: the node's replay check, which
		// runs on the number alone before decryption, lets it through
		// to authentication, which fails (the header is the associated
		// data, and the bit is flipped besides).
		sealed := d[hdrLen : hdrLen-h.PNLen+h.Length]
		h.PN = g.maxPN + 1<<20 + uint64(r.IntN(1<<20))
		h.PNLen, h.Length = 4, 4+len(sealed)
		b = wire.AppendShortHeader(b, &h)
		at := len(b) + r.IntN(len(sealed))
		b = append(b, sealed...)
		b[at] ^= 1 << r.IntN(8)
	case kindHSForged:
		// The captured initiation's header and length, random contents:
		// it fails mac1 (or, for the rare valid mac1, decryption).
		b = append(b, g.init[:6]...)
		b = appendRandom(r, b, len(g.init)-6)
	case kindHSReplay:
		b = append(b, g.init...)
	case kindHSFresh:
		b = g.freshInitiation(b)
	}
	g.buf = b[:0]
	return b
}

// freshInitiation appends a valid initiation from one of the throwaway
// keys, with a new connection id, never to be completed.
func (g *generator) freshInitiation(b []byte) []byte {
	kp := g.fresh[g.r.IntN(len(g.fresh))]
	var cid secure.ConnID
	for i := range cid {
		cid[i] = byte(g.r.Uint32())
	}
	ini, err := secure.NewInitiator(secure.InitiatorConfig{Static: kp, Peer: g.peer, ConnID: cid, Payload: g.params, Stamper: &g.stamper})
	if err != nil {
		return append(b, g.init...)
	}
	defer ini.Close()
	out, err := ini.Initiation(b, time.Now(), monotime.Now())
	if err != nil {
		return append(b, g.init...)
	}
	return out
}

// appendRandom appends n random bytes (n <= 0 appends none).
func appendRandom(r *mrand.Rand, b []byte, n int) []byte {
	for n > 0 {
		v := r.Uint64()
		for i := 0; i < 8 && n > 0; i++ {
			b = append(b, byte(v))
			v = bits.RotateLeft64(v, -8)
			n--
		}
	}
	return b
}
