package secure_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/petrel-transport/petrel/core/secure"
)

func TestHandshakeBothSuites(t *testing.T) {
	for _, suite := range []secure.Suite{secure.SuiteAESGCM, secure.SuiteChaCha} {
		t.Run(suite.String(), func(t *testing.T) {
			ikp, rkp := keyPair(t, "initiator"), keyPair(t, "responder")
			r := newResponder(t, &rkp, nil)
			ini := newInitiator(t, &ikp, rkp.Public, func(c *secure.InitiatorConfig) { c.Suite = suite })
			o := complete(t, r, ini, addr(1), t0)

			if o.ik.Send != o.rk.Recv || o.ik.Recv != o.rk.Send {
				t.Fatal("the two sides derived different traffic secrets")
			}
			if o.ik.Send == o.ik.Recv {
				t.Fatal("both directions have one secret")
			}
			if o.ik.ChannelBinding != o.rk.ChannelBinding {
				t.Fatal("channel bindings differ")
			}
			if o.ik.Peer != rkp.Public || o.rk.Peer != ikp.Public {
				t.Fatal("wrong peer identities")
			}
			if o.ik.Suite != suite || o.rk.Suite != suite || !o.ik.Initiator || o.rk.Initiator {
				t.Fatalf("keys: suite %v/%v initiator %v/%v", o.ik.Suite, o.rk.Suite, o.ik.Initiator, o.rk.Initiator)
			}
			if string(o.in.Payload) != "initiator params" || string(o.respPayload) != "responder params" {
				t.Fatalf("payloads %q / %q", o.in.Payload, o.respPayload)
			}
			if o.in.ConnID != ini.ConnID() || o.in.Suite != suite {
				t.Fatalf("incoming conn id %v suite %v", o.in.ConnID, o.in.Suite)
			}
			if r.Pending() != 1 || !o.pending.Confirm() || r.Pending() != 0 || o.pending.Confirm() || o.pending.Fail() {
				t.Fatal("Confirm must take effect exactly once and end the pending count")
			}
			st := r.Stats()
			if st.Accepted != 1 || st.Confirmed != 1 || st.Initiations != 1 {
				t.Fatalf("stats %+v", st)
			}
			o.ik.Zero()
			if o.ik.Send != ([32]byte{}) || o.ik.Recv != ([32]byte{}) {
				t.Fatal("Zero left secrets")
			}
		})
	}
}

func TestSuiteRestrictedByResponder(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.Suites = []secure.Suite{secure.SuiteAESGCM} })
	ini := newInitiator(t, &ikp, rkp.Public, func(c *secure.InitiatorConfig) { c.Suite = secure.SuiteChaCha })
	msg, _ := ini.Initiation(nil, wall0, t0)
	if _, err := r.ReadInitiation(nil, msg, addr(1), t0); !errors.Is(err, secure.ErrMalformed) {
		t.Fatalf("refused suite: %v", err)
	}
}

// A middlebox rewriting the clear suite byte (a downgrade) or the clear
// connection id breaks the handshake: both are the Noise prologue.
func TestClearHeaderIsAuthenticated(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	for _, tc := range []struct {
		name string
		at   int
		to   byte
	}{{"suite", 5, byte(secure.SuiteChaCha)}, {"conn id", 7, 0xee}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResponder(t, &rkp, nil)
			ini := newInitiator(t, &ikp, rkp.Public, func(c *secure.InitiatorConfig) { c.Suite = secure.SuiteAESGCM })
			msg, _ := ini.Initiation(nil, wall0, t0)
			msg[tc.at] = tc.to
			remac1(msg, rkp.Public)
			if _, err := r.ReadInitiation(nil, msg, addr(1), t0); !errors.Is(err, secure.ErrDecrypt) {
				t.Fatalf("tampered %s: %v", tc.name, err)
			}
		})
	}
}

func TestWrongResponderKey(t *testing.T) {
	ikp, rkp, other := keyPair(t, "i"), keyPair(t, "r"), keyPair(t, "someone else")
	r := newResponder(t, &rkp, nil)
	ini := newInitiator(t, &ikp, other.Public, nil)
	msg, _ := ini.Initiation(nil, wall0, t0)
	_, err := r.ReadInitiation(nil, msg, addr(1), t0)
	if !errors.Is(err, secure.ErrMAC1) {
		t.Fatalf("initiation for another key: %v", err)
	}
	// An attacker can compute mac1 (the responder's key is public), but the
	// Noise message still fails: it was encrypted to another static key.
	remac1(msg, rkp.Public)
	if _, err := r.ReadInitiation(nil, msg, addr(1), t0); !errors.Is(err, secure.ErrDecrypt) {
		t.Fatalf("initiation with forged mac1: %v", err)
	}
	if st := r.Stats(); st.BadMAC1 != 1 || st.Decrypt != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReplayedInitiationRefusedNewerReplaces(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieNever })
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	first, _ := ini.Initiation(nil, wall0, t0)
	second, _ := ini.Initiation(nil, wall0, t0) // same wall clock: the Stamper still makes it newer

	res, err := r.ReadInitiation(nil, second, addr(1), t0)
	if err != nil {
		t.Fatalf("newest initiation: %v", err)
	}
	if _, err := res.Incoming.Refuse(nil, secure.RefuseNotAllowed); err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string][]byte{"replay of the accepted one": second, "an older one": first} {
		if _, err := r.ReadInitiation(nil, msg, addr(1), t0); !errors.Is(err, secure.ErrReplay) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// A restarted peer (same key, new process: a fresh Initiator and
	// Stamper) with a later clock is accepted at once.
	restarted := newInitiator(t, &ikp, rkp.Public, nil)
	msg, _ := restarted.Initiation(nil, wall0.Add(secure.CookieRotation), t0)
	if _, err := r.ReadInitiation(nil, msg, addr(2), t0); err != nil {
		t.Fatalf("restarted peer: %v", err)
	}
	if st := r.Stats(); st.Replayed != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefusalIsAuthenticatedAndClear(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, nil)
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	msg, _ := ini.Initiation(nil, wall0, t0)
	res, err := r.ReadInitiation(nil, msg, addr(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := res.Incoming.Refuse(nil, secure.RefuseNotAllowed)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ini.HandleResponse(reply)
	var re *secure.RefusedError
	if !errors.As(err, &re) || re.Reason != secure.RefuseNotAllowed || !errors.Is(err, secure.ErrRefused) {
		t.Fatalf("refusal: %v", err)
	}
	if r.Pending() != 0 {
		t.Fatalf("pending %d after a refusal", r.Pending())
	}
	if _, _, _, err := res.Incoming.Accept(nil, nil, t0); !errors.Is(err, secure.ErrUnexpected) {
		t.Fatalf("Accept after Refuse: %v", err)
	}
}

// A forged or damaged response changes nothing; the genuine one still
// completes the handshake.
func TestForgedResponse(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, nil)
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	resp := respond(t, r, ini)
	forged := bytes.Clone(resp)
	forged[len(forged)-2*16-3] ^= 1 // in the sealed payload
	remac1(forged, ikp.Public)
	if _, _, err := ini.HandleResponse(forged); !errors.Is(err, secure.ErrDecrypt) {
		t.Fatalf("forged response: %v", err)
	}
	forged[len(forged)-2*16-3] ^= 1
	forged[len(forged)-20] ^= 1 // mac1
	if _, _, err := ini.HandleResponse(forged); !errors.Is(err, secure.ErrMAC1) {
		t.Fatalf("bad mac1: %v", err)
	}
	if _, _, err := ini.HandleResponse(resp); err != nil {
		t.Fatalf("genuine response after forgeries: %v", err)
	}
	if _, _, err := ini.HandleResponse(resp); !errors.Is(err, secure.ErrUnexpected) {
		t.Fatalf("second response: %v", err)
	}
}

// A response to an earlier initiation does not complete a handshake that
// has since sent a newer one.
func TestResponseToSupersededInitiation(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, nil)
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	resp := respond(t, r, ini)
	if _, err := ini.Initiation(nil, wall0, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ini.HandleResponse(resp); !errors.Is(err, secure.ErrDecrypt) {
		t.Fatalf("stale response: %v", err)
	}
}

func TestMalformedInitiations(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, nil)
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	good, _ := ini.Initiation(nil, wall0, t0)
	cases := map[string][]byte{
		"empty":         nil,
		"short":         good[:secure.MinInitiationLen-1],
		"wrong type":    append([]byte{0xc2}, good[1:]...),
		"short form":    append([]byte{0x41}, good[1:]...),
		"version 2":     append(append([]byte{good[0]}, 0, 0, 0, 2), good[5:]...),
		"unknown suite": append(append(bytes.Clone(good[:5]), 9), good[6:]...),
		"too long":      append(bytes.Clone(good), make([]byte, secure.MaxPayload+1)...),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := r.ReadInitiation(nil, msg, addr(1), t0); !errors.Is(err, secure.ErrMalformed) {
				t.Fatalf("got %v", err)
			}
		})
	}
	for n := range len(good) {
		if _, err := r.ReadInitiation(nil, good[:n], addr(1), t0); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	kp := keyPair(t, "k")
	bad := kp
	bad.Public[0] ^= 1
	if _, err := secure.NewResponder(secure.ResponderConfig{}); !errors.Is(err, secure.ErrInvalidKey) {
		t.Fatalf("no static key: %v", err)
	}
	if _, err := secure.NewResponder(secure.ResponderConfig{Static: &bad}); !errors.Is(err, secure.ErrInvalidKey) {
		t.Fatalf("mismatched key pair: %v", err)
	}
	if _, err := secure.NewResponder(secure.ResponderConfig{Static: &kp, Suites: []secure.Suite{7}}); err == nil {
		t.Fatal("unknown suite accepted")
	}
	if _, err := secure.NewInitiator(secure.InitiatorConfig{Static: &kp}); !errors.Is(err, secure.ErrInvalidKey) {
		t.Fatalf("no peer: %v", err)
	}
	if _, err := secure.NewInitiator(secure.InitiatorConfig{Static: &kp, Peer: kp.Public, Payload: make([]byte, secure.MaxPayload+1)}); err == nil {
		t.Fatal("oversized payload accepted")
	}
}

// respond runs ini's next initiation through r and returns r's response.
func respond(t *testing.T, r *secure.Responder, ini *secure.Initiator) []byte {
	t.Helper()
	msg, _ := ini.Initiation(nil, wall0, t0)
	res, err := r.ReadInitiation(nil, msg, addr(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, _, err := res.Incoming.Accept(nil, []byte("p"), t0)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
