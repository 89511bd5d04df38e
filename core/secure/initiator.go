package secure

import (
	"fmt"
	"io"
	"time"

	"github.com/flynn/noise"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// InitiatorConfig configures one outgoing handshake.
type InitiatorConfig struct {
	// Static is this node's identity, a valid pair (KeyPair.Valid; a node
	// checks it once, not per dial: the check is a scalar multiplication,
	// 5% of a handshake). Required; the Initiator copies it.
	Static *KeyPair
	// Peer is the responder's static key: the key the node dials. Required.
	Peer PublicKey
	// Suite is the handshake's suite. Zero means DefaultSuite().
	Suite Suite
	// ConnID is the connection id this side chose for packets sent to it.
	ConnID ConnID
	// Payload is sent to the responder encrypted and authenticated (core
	// puts its transport parameters here). At most MaxPayload bytes; copied.
	Payload []byte
	// Stamper issues the initiation timestamps. Nil means a process-wide
	// Stamper; a node should pass its own.
	Stamper *Stamper
	// Rand is the source of ephemeral keys. Nil means crypto/rand.
	Rand io.Reader
}

// Initiator is the dialling side of one handshake, a state machine with
// time passed in: it builds initiations, takes in a cookie reply if the
// responder asks for one, and completes on the response. It does no I/O and
// starts no goroutine; the caller sends what it returns and retransmits on
// its own timer by calling Initiation again (each call is a fresh Noise
// message with a newer timestamp, so the responder accepts the newest).
// Not safe for concurrent use.
//
// Guard map: everything is owned by the goroutine driving the handshake.
type Initiator struct {
	static    KeyPair
	peer      PublicKey
	suite     Suite
	cid       ConnID
	payload   []byte
	stamper   *Stamper
	rand      io.Reader
	mac1Key   [32]byte // HASH("mac1----" || peer)
	cookieKey [32]byte // HASH("cookie--" || peer)
	myMAC1Key [32]byte // HASH("mac1----" || own static): responses carry it

	hs       *noise.HandshakeState // the latest initiation's, until done
	lastMAC1 [macSize]byte         // mac1 of the latest initiation
	sent     bool                  // an initiation was built

	cookie   [macSize]byte
	cookieAt monotime.Time
	hasCook  bool

	done bool
}

// NewInitiator checks cfg and returns an Initiator ready to build its
// first initiation.
func NewInitiator(cfg InitiatorConfig) (*Initiator, error) {
	if cfg.Static == nil || cfg.Static.Public.IsZero() {
		return nil, fmt.Errorf("secure: InitiatorConfig.Static: %w", ErrInvalidKey)
	}
	if cfg.Peer.IsZero() {
		return nil, fmt.Errorf("secure: InitiatorConfig.Peer is required: %w", ErrInvalidKey)
	}
	if cfg.Suite == 0 {
		cfg.Suite = DefaultSuite()
	}
	if !cfg.Suite.Valid() {
		return nil, fmt.Errorf("secure: InitiatorConfig.Suite: unknown suite %v", cfg.Suite)
	}
	if len(cfg.Payload) > MaxPayload {
		return nil, fmt.Errorf("secure: InitiatorConfig.Payload is %d bytes, more than MaxPayload (%d)", len(cfg.Payload), MaxPayload)
	}
	if cfg.Stamper == nil {
		cfg.Stamper = &processStamper
	}
	i := &Initiator{
		static:  *cfg.Static,
		peer:    cfg.Peer,
		suite:   cfg.Suite,
		cid:     cfg.ConnID,
		payload: append([]byte(nil), cfg.Payload...),
		stamper: cfg.Stamper,
		rand:    cfg.Rand,
	}
	i.mac1Key = derivedKey(labelMAC1, &i.peer)
	i.cookieKey = derivedKey(labelCookie, &i.peer)
	i.myMAC1Key = derivedKey(labelMAC1, &i.static.Public)
	return i, nil
}

// Peer returns the responder's static key.
func (i *Initiator) Peer() PublicKey { return i.peer }

// ConnID returns the initiator's connection id (the dcid of replies).
func (i *Initiator) ConnID() ConnID { return i.cid }

// Initiation appends a new initiation datagram to dst: a fresh ephemeral
// key, a timestamp from wall (made strictly newer than any before by the
// Stamper), and mac2 from the responder's cookie if one is held and younger
// than CookieLifetime at now. Any earlier initiation of this Initiator is
// forgotten: a response to it no longer completes the handshake.
func (i *Initiator) Initiation(dst []byte, wall time.Time, now monotime.Time) ([]byte, error) {
	if i.done {
		return dst, ErrUnexpected
	}
	eraseEphemeral(i.hs)
	i.hs = nil
	start := len(dst)
	dst = appendHeader(dst, typeInitiation)
	dst = append(dst, byte(i.suite))
	dst = append(dst, i.cid[:]...)
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   i.suite.noise(),
		Random:        i.rand,
		Pattern:       noise.HandshakeIK,
		Initiator:     true,
		Prologue:      prologueFor(dst[start:]),
		StaticKeypair: noise.DHKey{Private: i.static.Private[:], Public: i.static.Public[:]},
		PeerStatic:    i.peer[:],
	})
	if err != nil {
		return dst[:start], fmt.Errorf("secure: initiation: %w", err)
	}
	ts := i.stamper.Next(wall)
	plain := make([]byte, 0, tsSize+len(i.payload))
	plain = append(append(plain, ts[:]...), i.payload...)
	dst, _, _, err = hs.WriteMessage(dst, plain)
	if err != nil {
		eraseEphemeral(hs)
		return dst[:start], fmt.Errorf("secure: initiation: %w", err)
	}
	msg := dst[start:]
	var m [macSize]byte
	mac(&m, i.mac1Key[:], msg)
	dst = append(dst, m[:]...)
	i.lastMAC1 = m
	if i.hasCook && now.Sub(i.cookieAt) >= CookieLifetime {
		i.hasCook = false
	}
	if i.hasCook {
		mac(&m, i.cookie[:], dst[start:])
	} else {
		m = [macSize]byte{}
	}
	dst = append(dst, m[:]...)
	i.hs, i.sent = hs, true
	return dst, nil
}

// HandleCookieReply takes the cookie of a reply to the latest initiation;
// the caller then sends a new Initiation, which carries it. A reply that
// does not answer the latest initiation (a forged or stale one) is refused
// with ErrDecrypt and changes nothing.
func (i *Initiator) HandleCookieReply(reply []byte, now monotime.Time) error {
	if i.done || !i.sent {
		return ErrUnexpected
	}
	if cid, ok := DestConnID(reply); !ok || cid != i.cid {
		return ErrUnexpected
	}
	c, err := openCookieReply(reply, &i.cookieKey, i.lastMAC1[:])
	if err != nil {
		return err
	}
	i.cookie, i.cookieAt, i.hasCook = c, now, true
	return nil
}

// HandleResponse completes the handshake with a response to the latest
// initiation. It returns the session's keys and the responder's payload
// (a new slice). A response that fails mac1 or authentication, or answers
// an earlier initiation, returns an error and changes nothing, so a forged
// response cannot end a handshake. An authenticated refusal ends it with a
// *RefusedError.
func (i *Initiator) HandleResponse(resp []byte) (*Keys, []byte, error) {
	if i.done || i.hs == nil {
		return nil, nil, ErrUnexpected
	}
	if len(resp) < MinResponseLen || !IsResponse(resp) {
		return nil, nil, ErrMalformed
	}
	if cid, _ := DestConnID(resp); cid != i.cid {
		return nil, nil, ErrUnexpected
	}
	if !checkMAC(i.myMAC1Key[:], resp, len(resp)-2*macSize) {
		return nil, nil, ErrMAC1
	}
	// A failed ReadMessage leaves the handshake able to read the genuine
	// response: flynn/noise rolls back its chaining key and hash, and the
	// next read's ee and se recompute the cipher key (TestForgedResponse).
	plain, cs1, cs2, err := i.hs.ReadMessage(nil, resp[respHeaderLen:len(resp)-2*macSize])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	if cs1 == nil || cs2 == nil || len(plain) < 1 {
		return nil, nil, ErrMalformed
	}
	hs := i.hs
	i.done, i.hs = true, nil
	defer eraseEphemeral(hs)
	if plain[0] != statusAccepted {
		cs1.Rekey()
		cs2.Rekey()
		return nil, nil, &RefusedError{Reason: RefuseReason(plain[0])}
	}
	k := &Keys{Suite: i.suite, Peer: i.peer}
	splitKeys(k, true, cs1, cs2, hs)
	return k, plain[1:], nil
}

// Close erases the Initiator's secrets: its copy of the static key and the
// ephemeral key of an initiation in flight. The Initiator is unusable after.
func (i *Initiator) Close() {
	eraseEphemeral(i.hs)
	i.hs, i.done = nil, true
	i.static.Zero()
	clear(i.cookie[:])
}

// prologueFor is the Noise prologue of an initiation with clear header h.
func prologueFor(h []byte) []byte {
	p := make([]byte, 0, len(prologue)+len(h))
	return append(append(p, prologue...), h...)
}
