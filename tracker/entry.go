package tracker

import (
	"sync/atomic"
)

// The state word of an entry (64 bits):
//
//	bits 61..63  phase
//	bits 54..60  generation (retransmissions so far)
//	bits  0..53  packet number: the entry's identity in this life
const (
	pnBits    = 54
	genBits   = 7
	phaseBits = 3

	genShift   = pnBits
	phaseShift = pnBits + genBits

	pnMask  = 1<<pnBits - 1
	genMask = 1<<genBits - 1

	// MaxPacketNumber is the largest packet number the tracker accepts
	// (2^54-1; a connection sending ten million packets a second would
	// need 57 years to reach it).
	MaxPacketNumber = pnMask

	// maxGeneration bounds Config.MaxRetransmits.
	maxGeneration = genMask
)

// phase of an entry's life.
type phase uint8

const (
	phaseEmpty     phase = iota // slot never written in this chunk's life
	phaseWriting                // OnSent is filling the slot: not yet tracked
	phaseInFlight               // tracked; its bytes are in the Flight
	phaseAcked                  // final: released by an ACK
	phaseAbandoned              // final: released after MaxRetransmits or Abandon
	phaseDropped                // final: released by DropStream
)

// Generation counts how often a packet has been retransmitted (refreshed).
// A resend handed out by DueForResend carries the generation it was seen
// at; Refresh succeeds only with that generation.
type Generation uint8

// word is a decoded view of a state word.
type word uint64

func pack(p phase, g Generation, pn uint64) uint64 {
	return uint64(p)<<phaseShift | uint64(g)<<genShift | pn
}

func (w word) phase() phase    { return phase(w >> phaseShift) }
func (w word) gen() Generation { return Generation(w >> genShift & genMask) }
func (w word) pn() uint64      { return uint64(w) & pnMask }

// inFlightAs reports whether w says "packet pn, in flight".
func (w word) inFlightAs(pn uint64) bool {
	return w.phase() == phaseInFlight && w.pn() == pn
}

// entry is one sent packet. Entries live by value in pooled chunks (see
// pnindex.go) and are recycled when their chunk is.
//
// Guard map: every field is atomic. state is the entry's identity and
// phase; sent[0], stream and size are written by OnSent while the phase is
// Writing (before the entry is published as InFlight). sent is indexed by
// generation parity: sent[g&1] is the send time of the copy of generation
// g, and Refresh(g) writes sent[(g+1)&1] before the compare-and-swap that
// publishes g+1, so every field a reader needs for the state word it
// loaded was written before that word was. Readers load state, then the
// fields (sent[gen&1] for the word's gen), then state again and use the
// fields only if state did not change. 40 bytes.
type entry struct {
	state  atomic.Uint64
	sent   [2]atomic.Int64 // monotime.Time of the copy of each generation parity
	stream atomic.Uint64   // StreamID
	size   atomic.Uint32   // bytes counted in the Flight
}

// sentAt returns the send time of the copy of the generation in the state
// word s, which the caller loaded from e.
func (e *entry) sentAt(s uint64) int64 { return e.sent[word(s).gen()&1].Load() }
