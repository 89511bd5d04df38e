package secure

import (
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/flynn/noise"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Incoming is an initiation that authenticated, was not a replay and was
// admitted. Its fields are the initiator's, proven by the handshake (From
// only by the cookie, when Validated). Call exactly one of Accept or Refuse;
// until then it counts as pending and holds its admission. Not safe for
// concurrent use.
type Incoming struct {
	Suite     Suite
	Peer      PublicKey      // the initiator's static key
	ConnID    ConnID         // the initiator's connection id: the dcid of packets to it
	Timestamp Timestamp      // the initiation's timestamp, newer than any before from Peer
	Payload   []byte         // the initiator's payload (its transport parameters)
	From      netip.AddrPort // the source address of the initiation
	Validated bool           // From was proven by a retry cookie

	r        *Responder
	hs       *noise.HandshakeState
	received int // bytes of the initiation
	answered bool
}

// Accept completes the handshake: it appends the response, carrying
// payload encrypted and authenticated, to dst, and returns the session's
// keys and the Pending handshake that waits for the initiator's first
// packet. If the response would break the anti-amplification limit towards
// an unvalidated address it is withheld (ErrAmplification) and the
// admission released.
func (in *Incoming) Accept(dst, payload []byte, now monotime.Time) ([]byte, *Keys, *Pending, error) {
	if in.answered {
		return dst, nil, nil, ErrUnexpected
	}
	if len(payload) > MaxPayload {
		return dst, nil, nil, fmt.Errorf("secure: Accept: payload of %d bytes exceeds MaxPayload (%d)", len(payload), MaxPayload)
	}
	p := &Pending{r: in.r, peer: in.Peer, deadline: now.Add(in.r.timeout)}
	p.amp.OnReceive(in.received)
	if in.Validated {
		p.amp.Validate()
	}
	out, cs1, cs2, err := in.write(dst, statusAccepted, payload, &p.amp)
	if err != nil {
		in.release()
		return dst, nil, nil, err
	}
	k := &Keys{Suite: in.Suite, Peer: in.Peer}
	splitKeys(k, false, cs1, cs2, in.hs)
	eraseEphemeral(in.hs)
	in.hs = nil
	in.r.c.accepted.Add(1)
	return out, k, p, nil
}

// Refuse appends an authenticated refusal to dst and releases the
// admission; the initiator's handshake ends with a *RefusedError carrying
// reason.
func (in *Incoming) Refuse(dst []byte, reason RefuseReason) ([]byte, error) {
	if in.answered {
		return dst, ErrUnexpected
	}
	out, err := in.respond(dst, byte(reason), nil)
	in.release()
	return out, err
}

// respond writes a response with status and no state kept after it.
func (in *Incoming) respond(dst []byte, status byte, payload []byte) ([]byte, error) {
	var amp Amplification
	amp.OnReceive(in.received)
	if in.Validated {
		amp.Validate()
	}
	out, cs1, cs2, err := in.write(dst, status, payload, &amp)
	if err != nil {
		return dst, err
	}
	cs1.Rekey()
	cs2.Rekey()
	eraseEphemeral(in.hs)
	in.hs = nil
	in.r.c.refused.Add(1)
	return out, nil
}

// write appends the response message with status and payload, if amp lets
// its bytes go.
func (in *Incoming) write(dst []byte, status byte, payload []byte, amp *Amplification) ([]byte, *noise.CipherState, *noise.CipherState, error) {
	in.answered = true
	start := len(dst)
	dst = appendHeader(dst, typeResponse)
	dst = append(dst, in.ConnID[:]...)
	plain := make([]byte, 0, 1+len(payload))
	plain = append(append(plain, status), payload...)
	dst, cs1, cs2, err := in.hs.WriteMessage(dst, plain)
	if err != nil || cs1 == nil {
		eraseEphemeral(in.hs)
		return dst[:start], nil, nil, fmt.Errorf("secure: response: %v", err)
	}
	key := derivedKey(labelMAC1, &in.Peer)
	var m [macSize]byte
	mac(&m, key[:], dst[start:])
	dst = append(dst, m[:]...)
	dst = append(dst, make([]byte, macSize)...) // mac2: responses need no cookie
	n := len(dst) - start
	if !amp.TrySend(n) {
		in.r.c.amplification.Add(1)
		cs1.Rekey()
		cs2.Rekey()
		eraseEphemeral(in.hs)
		return dst[:start], nil, nil, ErrAmplification
	}
	if !in.Validated {
		in.r.c.unvalidatedOut.Add(uint64(n))
	}
	return dst, cs1, cs2, nil
}

// release returns the admission of an initiation that will not become a
// connection.
func (in *Incoming) release() {
	in.r.pending.Add(-1)
	in.r.admission.Release(in.Peer)
}

// Pending is an accepted handshake waiting for proof that the initiator
// holds the keys: its first packet that opens under them. The caller arms
// a timer for Deadline (core: on the node's wheel) and calls Fail if it
// fires first; it calls Confirm when the first packet opens. Exactly one of
// them takes effect. Safe for concurrent use.
//
// Guard map: r, peer and deadline are immutable; amp and state are atomic.
type Pending struct {
	r        *Responder
	peer     PublicKey
	deadline monotime.Time
	amp      Amplification
	state    atomic.Uint32 // pendingOpen, pendingConfirmed or pendingFailed
}

const (
	pendingOpen uint32 = iota
	pendingConfirmed
	pendingFailed
)

// Peer returns the initiator's static key.
func (p *Pending) Peer() PublicKey { return p.peer }

// Deadline returns when the handshake fails unless confirmed.
func (p *Pending) Deadline() monotime.Time { return p.deadline }

// Amplification returns the ledger of bytes to and from the initiator's
// address: the connection must send through it (TrySend) until Confirm
// validates the address.
func (p *Pending) Amplification() *Amplification { return &p.amp }

// Confirm records that the initiator proved it holds the keys: the address
// is validated and the admission passes to the new connection, whose owner
// releases it from now on. It reports whether this call confirmed (false if
// already confirmed or failed).
func (p *Pending) Confirm() bool {
	if !p.state.CompareAndSwap(pendingOpen, pendingConfirmed) {
		return false
	}
	p.amp.Validate()
	p.r.pending.Add(-1)
	p.r.c.confirmed.Add(1)
	return true
}

// Fail ends the handshake — it timed out, or the connection failed before
// confirmation — and releases its admission. It reports whether this call
// failed it (false if already confirmed or failed).
func (p *Pending) Fail() bool {
	if !p.state.CompareAndSwap(pendingOpen, pendingFailed) {
		return false
	}
	p.r.pending.Add(-1)
	p.r.admission.Release(p.peer)
	p.r.c.failed.Add(1)
	return true
}
