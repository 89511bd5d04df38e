package tracker

import (
	"sync/atomic"
)

// The state word of an entry (64 bits):
//
//	bits 61..63  phase
//	bit  60      probe: the packet left flight by a probe timeout, not by a
//	             loss threshold (meaningful in Lost and after it)
//	bit  59      late ack: a Retransmitted packet was acknowledged since
//	             (reported once as a spurious loss)
//	bits 52..58  generation: how often the packet's data was retransmitted
//	             before it (under earlier packet numbers)
//	bits  0..51  packet number: the entry's identity in this life
const (
	pnBits    = 52
	genBits   = 7
	phaseBits = 3

	genShift   = pnBits
	phaseShift = 64 - phaseBits

	pnMask  = 1<<pnBits - 1
	genMask = 1<<genBits - 1

	flagProbe   = 1 << 60
	flagLateAck = 1 << 59

	// MaxPacketNumber is the largest packet number the tracker accepts
	// (2^52-1; a connection sending ten million packets a second would
	// need 14 years to reach it).
	MaxPacketNumber = pnMask

	// maxGeneration bounds Config.MaxRetransmits.
	maxGeneration = genMask
)

// phase of an entry's life. Phases at or above phaseAcked are final.
type phase uint8

const (
	phaseEmpty         phase = iota // slot never written in this chunk's life
	phaseWriting                    // OnSent or Retransmit is filling the slot: not yet tracked
	phaseInFlight                   // tracked; its bytes are in the FlightSize
	phaseLost                       // declared lost (or probed): bytes released, data awaits Retransmit
	phaseAcked                      // final: acknowledged (released by the ACK if it was in flight)
	phaseAbandoned                  // final: given up (MaxRetransmits or Abandon)
	phaseDropped                    // final: its stream was dropped
	phaseRetransmitted              // final: its data moved to a new packet number by Retransmit
)

// Generation counts how often a packet's data was retransmitted before it:
// 0 for a first transmission, the lost packet's Generation + 1 for the
// packet Retransmit registers.
type Generation uint8

// word is a decoded view of a state word.
type word uint64

func pack(p phase, g Generation, pn uint64) uint64 {
	return uint64(p)<<phaseShift | uint64(g)<<genShift | pn
}

func (w word) phase() phase    { return phase(w >> phaseShift) }
func (w word) gen() Generation { return Generation(w >> genShift & genMask) }
func (w word) pn() uint64      { return uint64(w) & pnMask }
func (w word) probe() bool     { return w&flagProbe != 0 }

// to returns w moved to phase p, keeping its flags, generation and packet
// number, and adding flags.
func (w word) to(p phase, flags uint64) uint64 {
	return uint64(w)&(1<<phaseShift-1) | uint64(p)<<phaseShift | flags
}

// inFlightAs reports whether w says "packet pn, in flight".
func (w word) inFlightAs(pn uint64) bool {
	return w.phase() == phaseInFlight && w.pn() == pn
}

// unresolvedAs reports whether w says "packet pn, in flight or lost": the
// packet still holds its slot (and, for a stream packet, its place in the
// stream's list).
func (w word) unresolvedAs(pn uint64) bool {
	p := w.phase()
	return (p == phaseInFlight || p == phaseLost) && w.pn() == pn
}

// entry is one sent packet. Entries live by value in pooled chunks (see
// pnindex.go) and are recycled when their chunk is.
//
// Guard map: every field is atomic. state is the entry's identity and
// phase; sent, rec, size and life are written by OnSent or Retransmit
// while the phase is Writing (rec under its stream's shard lock, as the
// entry is published), and never change in that life. rec is the stream's
// list (nil for Control): it stays that stream's while the entry is
// unresolved, since a list is recycled only when it holds no unresolved
// packet. A reader loads state, then the fields,
// and uses the fields only if state still says the same life afterwards
// (or if its compare-and-swap from that state won). life is the life of
// the chunk the slot was claimed in (see chunk.life): a final word left
// over from an earlier life of the chunk is told apart by it. 32 bytes.
type entry struct {
	state atomic.Uint64
	sent  atomic.Int64              // monotime.Time the packet was sent
	rec   atomic.Pointer[streamRec] // its stream's list; nil: Control
	size  atomic.Uint32             // bytes counted in the FlightSize
	life  atomic.Uint32             // chunk.life when the slot was claimed
}

// stream returns the entry's stream. The caller has seen the entry
// unresolved and checks its state word again before using the result (the
// list, and so its id, cannot be recycled in between).
func (e *entry) stream() StreamID {
	if r := e.rec.Load(); r != nil {
		return StreamID(r.id.Load())
	}
	return Control
}
