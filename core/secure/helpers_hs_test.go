package secure_test

import (
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// t0 and wall0 are the instants the tests start at: time is always passed in.
var (
	t0    = monotime.Time(1000 * time.Hour)
	wall0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
)

// keyPair returns a deterministic identity for seed.
func keyPair(t testing.TB, seed string) secure.KeyPair {
	t.Helper()
	kp, err := secure.NewKeyPair(sha256.Sum256([]byte(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// addr returns a distinct source address per i.
func addr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%50000))
}

func newResponder(t testing.TB, kp *secure.KeyPair, mod func(*secure.ResponderConfig)) *secure.Responder {
	t.Helper()
	cfg := secure.ResponderConfig{Static: kp}
	if mod != nil {
		mod(&cfg)
	}
	r, err := secure.NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newInitiator(t testing.TB, kp *secure.KeyPair, peer secure.PublicKey, mod func(*secure.InitiatorConfig)) *secure.Initiator {
	t.Helper()
	cfg := secure.InitiatorConfig{Static: kp, Peer: peer, ConnID: secure.ConnID{1, 2, 3, 4, 5, 6, 7, 8}, Payload: []byte("initiator params"), Stamper: new(secure.Stamper)}
	if mod != nil {
		mod(&cfg)
	}
	i, err := secure.NewInitiator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// outcome is one completed handshake, seen from both sides.
type outcome struct {
	ik, rk      *secure.Keys
	in          *secure.Incoming
	pending     *secure.Pending
	respPayload []byte
}

// complete runs ini against r from address from until it completes,
// echoing a cookie if r asks for one; it fails the test on any other error.
func complete(t testing.TB, r *secure.Responder, ini *secure.Initiator, from netip.AddrPort, now monotime.Time) outcome {
	t.Helper()
	for range 2 {
		msg, err := ini.Initiation(nil, wall0, now)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.ReadInitiation(nil, msg, from, now)
		if err == secure.ErrCookieRequired {
			if err := ini.HandleCookieReply(res.Reply, now); err != nil {
				t.Fatalf("cookie reply: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ReadInitiation: %v", err)
		}
		resp, rk, p, err := res.Incoming.Accept(nil, []byte("responder params"), now)
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		ik, payload, err := ini.HandleResponse(resp)
		if err != nil {
			t.Fatalf("HandleResponse: %v", err)
		}
		return outcome{ik: ik, rk: rk, in: res.Incoming, pending: p, respPayload: payload}
	}
	t.Fatal("no handshake after a cookie round trip")
	return outcome{}
}
