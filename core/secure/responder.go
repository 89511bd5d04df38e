package secure

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/flynn/noise"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Defaults of ResponderConfig.
const (
	// DefaultLoadThreshold: under CookieUnderLoad, more pending handshakes
	// than this make the responder ask for cookies. A pending handshake
	// lives one round trip when the initiator is genuine, so 64 is a burst
	// of dials no honest peer set makes at once, far below the budget.
	DefaultLoadThreshold = 64
	// DefaultHandshakeTimeout is how long an accepted handshake waits for
	// the initiator's first packet before it fails and releases its
	// admission. An initiator retransmits its initiation well within it.
	DefaultHandshakeTimeout = 5 * time.Second
)

// ResponderConfig configures a node's answering side of handshakes.
type ResponderConfig struct {
	// Static is this node's identity. Required; the Responder copies it.
	Static *KeyPair
	// Suites are the suites accepted. Nil means both.
	Suites []Suite
	// CookieMode says when to ask for a retry cookie. The zero value is
	// CookieUnderLoad.
	CookieMode CookieMode
	// LoadThreshold is the number of pending handshakes above which
	// CookieUnderLoad asks for cookies. Zero means DefaultLoadThreshold.
	LoadThreshold int
	// Replay remembers initiation timestamps per static key. Nil means
	// NewTimestampTable(0).
	Replay ReplayGuard
	// Admission bounds handshake state. Nil means NewBudget(DefaultHandshakeBudget).
	Admission Admission
	// HandshakeTimeout is the deadline of an accepted handshake's
	// confirmation. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Rand is the source of ephemeral keys, cookie secrets and nonces. Nil
	// means crypto/rand.
	Rand io.Reader
}

// Responder answers initiations for one static key. It keeps no state per
// initiation until one has passed mac1, the cookie policy, authentication,
// the replay check and admission; what it keeps then is the Incoming and,
// after Accept, the Pending, both bounded by the Admission. Safe for
// concurrent use: initiations from many addresses may be read at once.
//
// Guard map: every field but the counters is immutable after NewResponder;
// jar holds its own atomics; pending and the counters are atomic.
type Responder struct {
	static    KeyPair
	mac1Key   [32]byte // HASH("mac1----" || static.Public)
	cookieKey [32]byte // HASH("cookie--" || static.Public)
	suites    [3]bool  // indexed by Suite
	mode      CookieMode
	threshold int64
	replay    ReplayGuard
	admission Admission
	timeout   time.Duration
	rand      io.Reader
	jar       cookieJar

	pending atomic.Int64 // admitted, neither confirmed nor failed
	c       responderCounters
}

type responderCounters struct {
	initiations, malformed, badMAC1, cookieReplies, badCookie           atomic.Uint64
	decrypt, replayed, overBudget, amplification                        atomic.Uint64
	accepted, refused, confirmed, failed, unvalidatedIn, unvalidatedOut atomic.Uint64
}

// ResponderStats counts every initiation a Responder read, by outcome.
type ResponderStats struct {
	Initiations   uint64 // datagrams given to ReadInitiation
	Malformed     uint64 // ErrMalformed
	BadMAC1       uint64 // ErrMAC1: not for this key, or damaged
	CookieReplies uint64 // ErrCookieRequired: a cookie reply was returned
	BadCookie     uint64 // a non-zero mac2 that did not verify (other address, expired bucket, forged)
	Decrypt       uint64 // ErrDecrypt
	Replayed      uint64 // ErrReplay
	OverBudget    uint64 // ErrOverBudget: refused by the Admission
	Amplification uint64 // ErrAmplification: a reply withheld
	Accepted      uint64 // Incoming.Accept succeeded
	Refused       uint64 // refusals sent (over budget or by Incoming.Refuse)
	Confirmed     uint64 // Pending.Confirm
	Failed        uint64 // Pending.Fail
	// UnvalidatedIn and UnvalidatedOut are the handshake bytes received from
	// and sent to addresses not validated by a cookie: the anti-amplification
	// ledger (Out <= 3 * In holds per reply, and therefore in total).
	UnvalidatedIn, UnvalidatedOut uint64
	Pending                       int // admitted handshakes not yet confirmed or failed
}

// NewResponder checks cfg and returns a Responder.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.Static == nil || !cfg.Static.Valid() {
		return nil, fmt.Errorf("secure: ResponderConfig.Static: %w", ErrInvalidKey)
	}
	if cfg.LoadThreshold < 0 || cfg.HandshakeTimeout < 0 || cfg.CookieMode > CookieNever {
		return nil, fmt.Errorf("secure: ResponderConfig: negative LoadThreshold or HandshakeTimeout, or unknown CookieMode %v", cfg.CookieMode)
	}
	r := &Responder{
		static:    *cfg.Static,
		mode:      cfg.CookieMode,
		threshold: int64(cfg.LoadThreshold),
		replay:    cfg.Replay,
		admission: cfg.Admission,
		timeout:   cfg.HandshakeTimeout,
		rand:      cfg.Rand,
	}
	if cfg.Suites == nil {
		cfg.Suites = []Suite{SuiteAESGCM, SuiteChaCha}
	}
	for _, s := range cfg.Suites {
		if !s.Valid() {
			return nil, fmt.Errorf("secure: ResponderConfig.Suites: unknown suite %v", s)
		}
		r.suites[s] = true
	}
	if r.threshold == 0 {
		r.threshold = DefaultLoadThreshold
	}
	if r.replay == nil {
		r.replay = NewTimestampTable(0)
	}
	if r.admission == nil {
		r.admission = NewBudget(DefaultHandshakeBudget)
	}
	if r.timeout == 0 {
		r.timeout = DefaultHandshakeTimeout
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	r.jar.rand = r.rand
	r.mac1Key = derivedKey(labelMAC1, &r.static.Public)
	r.cookieKey = derivedKey(labelCookie, &r.static.Public)
	return r, nil
}

// PublicKey returns the responder's static public key.
func (r *Responder) PublicKey() PublicKey { return r.static.Public }

// Pending returns the number of admitted handshakes not yet confirmed or
// failed.
func (r *Responder) Pending() int { return int(r.pending.Load()) }

// Stats returns a snapshot of the counters.
func (r *Responder) Stats() ResponderStats {
	c := &r.c
	return ResponderStats{
		Initiations: c.initiations.Load(), Malformed: c.malformed.Load(), BadMAC1: c.badMAC1.Load(),
		CookieReplies: c.cookieReplies.Load(), BadCookie: c.badCookie.Load(), Decrypt: c.decrypt.Load(),
		Replayed: c.replayed.Load(), OverBudget: c.overBudget.Load(), Amplification: c.amplification.Load(),
		Accepted: c.accepted.Load(), Refused: c.refused.Load(), Confirmed: c.confirmed.Load(), Failed: c.failed.Load(),
		UnvalidatedIn: c.unvalidatedIn.Load(), UnvalidatedOut: c.unvalidatedOut.Load(),
		Pending: r.Pending(),
	}
}

// Result is what ReadInitiation asks of the caller.
type Result struct {
	// Reply, when not nil, is a datagram to send to the initiation's source
	// address: a cookie reply (with ErrCookieRequired) or an authenticated
	// refusal (with ErrOverBudget). It is appended to the dst given.
	Reply []byte
	// Incoming, when not nil, is an admitted initiation: the caller must
	// call exactly one of its Accept or Refuse.
	Incoming *Incoming
}

// ReadInitiation processes one initiation datagram pkt from address from,
// in this order, each step dropping what fails it with a typed error:
// shape (ErrMalformed); mac1 (ErrMAC1), one BLAKE2s before any public-key
// work; the cookie policy (ErrCookieRequired, with a cookie reply and no
// state kept); Noise authentication (ErrDecrypt); the timestamp
// (ErrReplay); admission (ErrOverBudget, with an authenticated refusal).
// What passes all of them is returned as an Incoming. Replies are appended
// to dst; pkt is not retained.
func (r *Responder) ReadInitiation(dst, pkt []byte, from netip.AddrPort, now monotime.Time) (Result, error) {
	r.c.initiations.Add(1)
	if len(pkt) < MinInitiationLen || len(pkt) > MinInitiationLen+MaxPayload || !IsInitiation(pkt) {
		r.c.malformed.Add(1)
		return Result{}, ErrMalformed
	}
	if s := Suite(pkt[5]); !s.Valid() || !r.suites[s] {
		r.c.malformed.Add(1)
		return Result{}, fmt.Errorf("%w: suite %v not accepted", ErrMalformed, s)
	}
	if !checkMAC(r.mac1Key[:], pkt, len(pkt)-2*macSize) {
		r.c.badMAC1.Add(1)
		return Result{}, ErrMAC1
	}
	validated := false
	if mac2 := pkt[len(pkt)-macSize:]; !constantTimeZero(mac2) {
		if validated = r.jar.checkMAC2(pkt, from, now); !validated {
			r.c.badCookie.Add(1)
		}
	}
	if !validated {
		r.c.unvalidatedIn.Add(uint64(len(pkt)))
	}
	if !validated && r.wantCookie() {
		reply := r.jar.appendCookieReply(dst, pkt, &r.cookieKey, from, now)
		// A cookie reply is smaller than any initiation; the check states
		// the bound rather than trusting the arithmetic.
		if len(reply)-len(dst) > AmplificationFactor*len(pkt) {
			r.c.amplification.Add(1)
			return Result{}, ErrAmplification
		}
		r.c.cookieReplies.Add(1)
		r.c.unvalidatedOut.Add(uint64(len(reply) - len(dst)))
		return Result{Reply: reply}, ErrCookieRequired
	}

	suite := Suite(pkt[5])
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite.noise(),
		Random:        r.rand,
		Pattern:       noise.HandshakeIK,
		Prologue:      prologueFor(pkt[:initHeaderLen]),
		StaticKeypair: noise.DHKey{Private: r.static.Private[:], Public: r.static.Public[:]},
	})
	if err != nil {
		return Result{}, fmt.Errorf("secure: responder: %w", err)
	}
	plain, _, _, err := hs.ReadMessage(nil, pkt[initHeaderLen:len(pkt)-2*macSize])
	if err != nil || len(plain) < tsSize || len(hs.PeerStatic()) != KeySize {
		r.c.decrypt.Add(1)
		return Result{}, ErrDecrypt
	}
	in := &Incoming{
		r:         r,
		hs:        hs,
		Suite:     suite,
		Peer:      PublicKey(hs.PeerStatic()),
		ConnID:    ConnID(pkt[6:initHeaderLen]),
		Timestamp: Timestamp(plain[:tsSize]),
		Payload:   plain[tsSize:],
		From:      from,
		Validated: validated,
		received:  len(pkt),
	}
	if !r.replay.Advance(in.Peer, in.Timestamp) {
		r.c.replayed.Add(1)
		return Result{}, ErrReplay
	}
	if !r.admission.Admit(in.Peer, now) {
		r.c.overBudget.Add(1)
		reply, err := in.respond(dst, byte(RefuseBusy), nil)
		if err != nil {
			return Result{}, err
		}
		return Result{Reply: reply}, ErrOverBudget
	}
	r.pending.Add(1)
	return Result{Incoming: in}, nil
}

func (r *Responder) wantCookie() bool {
	switch r.mode {
	case CookieAlways:
		return true
	case CookieUnderLoad:
		return r.pending.Load() > r.threshold
	}
	return false
}

// Close erases the responder's copy of its static key. Handshakes read
// after Close fail.
func (r *Responder) Close() { r.static.Zero() }
