package secure

// Replay window: a bitmap of the most recent packet numbers, kept as a
// ring of 64-bit words (RFC 6479, as wireguard-go's replay filter), so that
// sliding forward clears whole words instead of shifting bits.

const (
	replayWordBits = 64
	replayWords    = 128 // ring of 128 words = 8192 bits (1 KiB per connection)
	// ReplayWindowSize is how many packet numbers below the highest one
	// accepted the window still tells apart: 8128 (one word of the ring is
	// the partly filled newest). RFC 6479 section 2 explains the spare word.
	ReplayWindowSize = (replayWords - 1) * replayWordBits
)

// Verdict is a replay window's judgement of a packet number.
type Verdict uint8

const (
	// Fresh: never accepted, within or above the window. Deliver.
	Fresh Verdict = iota + 1
	// Duplicate: accepted before. The receiver must still acknowledge it
	// again (the sender may have lost our ACK); it is never an error to the
	// connection, and its payload is not delivered twice.
	Duplicate
	// TooOld: below the window, so whether it was seen is unknown. It is
	// dropped without an ACK; if its data was never delivered, the sender
	// retransmits it under a new packet number after declaring it lost.
	TooOld
)

// String returns the verdict's name.
func (v Verdict) String() string {
	switch v {
	case Fresh:
		return "fresh"
	case Duplicate:
		return "duplicate"
	case TooOld:
		return "too old"
	}
	return "invalid verdict"
}

// ReplayWindow remembers which of the last ReplayWindowSize packet numbers
// were accepted. The zero value is an empty window, ready to use. It is not
// safe for concurrent use (the connection's receive path owns it) and
// allocates nothing.
type ReplayWindow struct {
	last uint64 // highest packet number accepted (0 while none: bit 0 tells)
	ring [replayWords]uint64
}

// Check judges pn without recording it: a cheap rejection before spending
// an AEAD open on a replay.
func (w *ReplayWindow) Check(pn uint64) Verdict {
	if pn > w.last {
		return Fresh
	}
	if w.last-pn >= ReplayWindowSize {
		return TooOld
	}
	word, bit := pn/replayWordBits%replayWords, pn%replayWordBits
	if w.ring[word]&(1<<bit) != 0 {
		return Duplicate
	}
	return Fresh
}

// Accept records pn, to be called after the packet opened, and returns its
// verdict: Fresh exactly once per packet number, Duplicate after that,
// TooOld below the window (and then records nothing).
func (w *ReplayWindow) Accept(pn uint64) Verdict {
	if pn > w.last {
		cur, next := w.last/replayWordBits, pn/replayWordBits
		// Clear the words the window slides over; past a full turn of the
		// ring every word is stale.
		n := min(next-cur, replayWords)
		for i := uint64(1); i <= n; i++ {
			w.ring[(cur+i)%replayWords] = 0
		}
		w.last = pn
	} else if w.last-pn >= ReplayWindowSize {
		return TooOld
	}
	word, bit := pn/replayWordBits%replayWords, uint64(1)<<(pn%replayWordBits)
	if w.ring[word]&bit != 0 {
		return Duplicate
	}
	w.ring[word] |= bit
	return Fresh
}
