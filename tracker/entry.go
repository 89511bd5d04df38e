package tracker

import (
	"sync/atomic"

	"github.com/petrel-transport/petrel/internal/monotime"
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
// phase; sent, stream, size and resent are written by OnSent while the
// phase is Writing (before the entry is published as InFlight). Refresh,
// once it has seen the slot hold its packet in flight, sets resent, then
// stores the new copy's send time, then publishes the next generation with
// its compare-and-swap: so a reader that loaded a word of generation g+1
// finds that copy's send time in sent, and a reader of generation 0 that
// may have read a refreshed copy's send time finds resent set. Readers
// load state, then the fields, then state again and use the fields only if
// state did not change. 32 bytes.
type entry struct {
	state  atomic.Uint64
	sent   atomic.Int64  // monotime.Time of the latest copy sent
	stream atomic.Uint64 // StreamID
	size   atomic.Uint32 // bytes counted in the Flight
	resent atomic.Bool   // a Refresh began: more than one copy may be out
}

// sentFor returns the send time a reader that loaded state word s from e
// may use, and whether the packet was retransmitted: a later generation, or
// a Refresh of generation 0 under way (its copy was sent, and sent may
// already be that copy's). Karn's rule takes no RTT sample from either.
func (e *entry) sentFor(s uint64) (sent monotime.Time, resent bool) {
	sent = monotime.Time(e.sent.Load())
	return sent, word(s).gen() > 0 || e.resent.Load()
}
