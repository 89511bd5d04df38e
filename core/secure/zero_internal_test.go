package secure

import (
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"
)

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Ephemeral keys are erased when a handshake completes, is superseded by a
// newer initiation, or is closed; the responder's once it answers.
func TestEphemeralKeysErased(t *testing.T) {
	ikp, _ := NewKeyPair(sha256.Sum256([]byte("i")))
	rkp, _ := NewKeyPair(sha256.Sum256([]byte("r")))
	r, _ := NewResponder(ResponderConfig{Static: &rkp})
	ini, _ := NewInitiator(InitiatorConfig{Static: &ikp, Peer: rkp.Public})
	wall := time.Now()

	if _, err := ini.Initiation(nil, wall, 1e12); err != nil {
		t.Fatal(err)
	}
	superseded := ini.hs.LocalEphemeral().Private
	msg, _ := ini.Initiation(nil, wall, 1e12)
	if !allZero(superseded) {
		t.Fatal("a superseded initiation's ephemeral key survived")
	}
	current := ini.hs.LocalEphemeral().Private
	res, err := r.ReadInitiation(nil, msg, netip.MustParseAddrPort("192.0.2.1:9"), 1e12)
	if err != nil {
		t.Fatal(err)
	}
	rhs := res.Incoming.hs
	resp, rk, _, err := res.Incoming.Accept(nil, nil, 1e12)
	if err != nil {
		t.Fatal(err)
	}
	if e := rhs.LocalEphemeral().Private; len(e) != 32 || !allZero(e) {
		t.Fatal("the responder's ephemeral key survived its response")
	}
	ik, _, err := ini.HandleResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !allZero(current) {
		t.Fatal("the initiator's ephemeral key survived the handshake")
	}
	if _, err := ik.Protector(ProtectorConfig{}); err != nil {
		t.Fatal(err)
	}
	if !allZero(ik.Send[:]) || !allZero(ik.Recv[:]) {
		t.Fatal("Keys.Protector left the traffic secrets")
	}
	rk.Zero()
	ini.Close()
	if !allZero(ini.static.Private[:]) {
		t.Fatal("Close left the initiator's static key")
	}
	r.Close()
	if !allZero(r.static.Private[:]) {
		t.Fatal("Close left the responder's static key")
	}
}
