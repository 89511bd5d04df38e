package secure_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/petrel-transport/petrel/core/secure"
)

// fuzzPair is a deterministic initiator and responder: seeded randomness, a
// fixed clock and a fixed suite make the genuine messages the same in every
// run and on every machine (DefaultSuite depends on the CPU's AES
// instructions: without the pin, an emulated 386 without them initiates
// with ChaCha20-Poly1305 and the committed AES initiation is no longer the
// genuine one), so seed corpora stay meaningful and the fuzzer mutates
// real messages.
func fuzzPair(t testing.TB, mode secure.CookieMode) (*secure.Initiator, *secure.Responder) {
	ikp, rkp := keyPair(t, "fuzz initiator"), keyPair(t, "fuzz responder")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) {
		c.CookieMode = mode
		c.Rand = rand.NewChaCha8([32]byte{1})
	})
	ini := newInitiator(t, &ikp, rkp.Public, func(c *secure.InitiatorConfig) {
		c.Rand = rand.NewChaCha8([32]byte{2})
		c.Suite = secure.SuiteAESGCM
	})
	return ini, r
}

// genuine returns the deterministic initiation and response of fuzzPair.
func genuine(t testing.TB) (initiation, response []byte) {
	ini, r := fuzzPair(t, secure.CookieNever)
	initiation, _ = ini.Initiation(nil, wall0, t0)
	res, err := r.ReadInitiation(nil, initiation, addr(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	response, _, _, err = res.Incoming.Accept(nil, []byte("responder params"), t0)
	if err != nil {
		t.Fatal(err)
	}
	return initiation, response
}

// FuzzResponder feeds arbitrary datagrams to a responder. It must never
// panic, must keep no state for anything it refuses, and may accept only
// the genuine initiation (up to mac2, which a responder not asking for
// cookies ignores once it fails).
func FuzzResponder(f *testing.F) {
	initiation, _ := genuine(f)
	f.Add(initiation, false)
	f.Add(initiation[:len(initiation)-1], false)
	f.Add(initiation, true)
	f.Add([]byte{0xc1, 0, 0, 0, 1, 1}, false)
	f.Fuzz(func(t *testing.T, data []byte, always bool) {
		mode := secure.CookieNever
		if always {
			mode = secure.CookieAlways
		}
		ini, r := fuzzPair(t, mode)
		want, _ := ini.Initiation(nil, wall0, t0)
		res, err := r.ReadInitiation(nil, data, addr(1), t0)
		if err != nil {
			if res.Incoming != nil || r.Pending() != 0 {
				t.Fatalf("refused (%v) but kept state", err)
			}
			if len(res.Reply) > 3*len(data) {
				t.Fatalf("reply of %d bytes to %d", len(res.Reply), len(data))
			}
			return
		}
		if len(data) != len(want) || !bytes.Equal(data[:len(data)-16], want[:len(want)-16]) {
			t.Fatalf("accepted a message that is not the genuine initiation")
		}
		if _, _, _, err := res.Incoming.Accept(nil, nil, t0); err != nil && r.Pending() != 0 {
			t.Fatalf("Accept failed (%v) but left state", err)
		}
	})
}

// FuzzInitiator feeds arbitrary datagrams to an initiator waiting for its
// response, as a response and as a cookie reply. It must never panic and
// may complete only with the genuine response (up to mac2, which
// initiators do not check).
func FuzzInitiator(f *testing.F) {
	_, response := genuine(f)
	f.Add(response)
	f.Add(response[:len(response)-1])
	f.Add(make([]byte, secure.CookieReplyLen))
	f.Fuzz(func(t *testing.T, data []byte) {
		ini, _ := fuzzPair(t, secure.CookieNever)
		if _, err := ini.Initiation(nil, wall0, t0); err != nil {
			t.Fatal(err)
		}
		_ = ini.HandleCookieReply(data, t0)
		k, payload, err := ini.HandleResponse(data)
		if err != nil {
			return
		}
		if len(data) != len(response) || !bytes.Equal(data[:len(data)-16], response[:len(response)-16]) {
			t.Fatalf("completed with a response that is not the genuine one")
		}
		if string(payload) != "responder params" || k == nil {
			t.Fatalf("payload %q", payload)
		}
	})
}

// The genuine pair completes: the fuzzers' premise.
func TestFuzzPairCompletes(t *testing.T) {
	_, response := genuine(t)
	ini, _ := fuzzPair(t, secure.CookieNever)
	if _, err := ini.Initiation(nil, wall0, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ini.HandleResponse(response); err != nil {
		t.Fatalf("genuine response does not complete a second run: %v", err)
	}
}
