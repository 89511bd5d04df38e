package tracker

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// StreamID names the stream a packet carries data for.
type StreamID uint64

// Control tags a packet that carries no stream's data (PING, CLOSE,
// control frames). Control packets are not in the stream index, so
// DropStream never removes them.
const Control StreamID = math.MaxUint64

// DefaultMaxRetransmits is Config.MaxRetransmits' default.
const DefaultMaxRetransmits = 10

// Config configures a Tracker. The zero value is valid.
type Config struct {
	// MaxRetransmits is how often a packet may be retransmitted
	// (refreshed) before the next loss abandons it, releasing its bytes.
	// Zero means DefaultMaxRetransmits; at most 127. A negative value means
	// never retransmit: a packet declared lost is abandoned at once.
	MaxRetransmits int
}

// Errors.
var (
	// ErrDuplicate: OnSent was given a packet number already registered
	// (packet numbers are never reused, RFC 9000 section 12.3).
	ErrDuplicate = errors.New("tracker: packet number already sent")
	// ErrPacketNumber: OnSent was given a packet number above MaxPacketNumber.
	ErrPacketNumber = errors.New("tracker: packet number out of range")
	// ErrWindow: OnSent was given a packet number 2^28 or more away from
	// the oldest packet still tracked.
	ErrWindow = errors.New("tracker: packet number too far from the packets in flight")
	// ErrAckUnsent: an ACK range names a packet number above every one sent,
	// or is malformed (Smallest > Largest). RFC 9000 section 13.1 makes the
	// former a PROTOCOL_VIOLATION. (Gaps below the largest sent are not
	// detected; see OnAck.)
	ErrAckUnsent = errors.New("tracker: ACK of a packet number never sent")
	// ErrNoReservation: OnSent was given an empty congestion.Reservation
	// (never filled, or already taken by an earlier call).
	ErrNoReservation = errors.New("tracker: empty flight reservation")
	// ErrForeignReservation: OnSent was given a reservation counted in
	// another FlightSize than the Tracker's.
	ErrForeignReservation = errors.New("tracker: reservation of another connection's FlightSize")
	// ErrPacketSize: a reservation of more than 2^32-1 bytes.
	ErrPacketSize = errors.New("tracker: packet larger than 2^32-1 bytes")
)

// counter is a padded pair of packet and byte counts. Guard map: both
// fields are atomic; the pair is not read as one snapshot.
type counter struct {
	pkts  atomic.Uint64
	bytes atomic.Uint64
	_     [48]byte
}

func (c *counter) add(n uint64) {
	c.pkts.Add(1)
	c.bytes.Add(n)
}

// Tracker is one connection's sent-packet tracker.
//
// Concurrency: every method is safe for concurrent use. The intended split
// is OnSent and DropStream on writers' goroutines, OnAck, DueForResend and
// Refresh on the connection's event loop; any interleaving keeps the
// invariants of the package doc. No lock is held across a call into the
// Flight or anything else outside the package. The zero value is not
// usable: call New.
//
// Guard map: flight and maxRetx are immutable after New; pns and streams
// have their own guard maps; everything else is atomic.
type Tracker struct {
	flight  *congestion.FlightSize
	maxRetx Generation

	pns     pnIndex
	streams streamIndex

	inflightBytes atomic.Uint64
	inflightPkts  atomic.Int64
	_             [48]byte

	largestAcked atomic.Uint64 // 1 + largest packet number acknowledged (0: none)
	ackedSentMax atomic.Int64  // latest send time of any acknowledged packet
	lastSent     atomic.Int64  // latest send time of any packet (sent or refreshed)
	_            [40]byte

	ctr         [phaseDropped + 1]counter // by final phase: acked, abandoned, dropped
	lost        counter                   // handed out as lost by DueForResend
	probes      counter                   // handed out as PTO probes (pkts only)
	retransmits counter                   // successful Refreshes (pkts only)
	ptos        atomic.Uint64             // PTO expirations seen by DueForResend
}

// New returns a Tracker of the packets whose bytes are counted in flight,
// the connection's flight counter: it takes over reservations made in
// flight (OnSent) and releases their bytes to it.
func New(flight *congestion.FlightSize, cfg Config) (*Tracker, error) {
	if flight == nil {
		return nil, errors.New("tracker: nil Flight")
	}
	maxRetx := cfg.MaxRetransmits
	switch {
	case maxRetx == 0:
		maxRetx = DefaultMaxRetransmits
	case maxRetx < 0:
		maxRetx = 0
	case maxRetx > maxGeneration:
		return nil, fmt.Errorf("tracker: MaxRetransmits %d above %d", maxRetx, maxGeneration)
	}
	t := &Tracker{flight: flight, maxRetx: Generation(maxRetx)}
	t.pns.init()
	t.streams.init()
	return t, nil
}

// OnSent registers packet pn, carrying data for stream (or Control), sent
// at now, and takes over res: the writer's reservation of the packet's
// bytes in the Tracker's FlightSize (FlightSize.TryReserveFor, ReserveFor,
// or AddFor for packets that must go out whatever the window). The
// reservation's bytes are the packet's size. OnSent always empties res: on
// success the Tracker owns the bytes and releases them exactly once; on
// error the packet is not tracked and OnSent has already given the bytes
// back to res's FlightSize, so the caller has nothing to undo (and must not
// send the packet). Safe to call from many goroutines, in any order of
// packet numbers (res itself belongs to the calling goroutine). It
// allocates nothing in steady state.
func (t *Tracker) OnSent(pn uint64, stream StreamID, res *congestion.Reservation, now monotime.Time) error {
	size, err := t.checkReservation(res)
	if err == nil && pn > MaxPacketNumber {
		err = ErrPacketNumber
	}
	if err != nil {
		res.Cancel()
		return err
	}
	c, err := t.pns.acquire(pn)
	if err != nil {
		res.Cancel()
		return err
	}
	e := &c.entries[pn&chunkMask]
	for {
		old := e.state.Load()
		if w := word(old); w.pn() == pn && w.phase() != phaseEmpty {
			t.pns.unref(c)
			res.Cancel()
			return ErrDuplicate
		}
		if e.state.CompareAndSwap(old, pack(phaseWriting, 0, pn)) {
			break
		}
	}
	e.sent.Store(int64(now))
	e.resent.Store(false)
	e.stream.Store(uint64(stream))
	e.size.Store(size)
	res.Take() // the bytes are the Tracker's from here: nothing below fails
	t.inflightBytes.Add(uint64(size))
	t.inflightPkts.Add(1)
	storeMax(&t.lastSent, int64(now))
	// Advance the sending frontier before publishing, so an ACK that sees
	// the packet in flight never finds its number "unsent".
	t.pns.advance(pn)
	// Publish. A stream's packet is published under its shard lock,
	// together with its registration: a DropStream either detaches the
	// stream's list before (and is over before the packet exists) or
	// finds the packet in flight.
	inFlight := pack(phaseInFlight, 0, pn)
	if stream == Control {
		e.state.Store(inFlight)
	} else {
		t.streams.add(&t.pns, stream, pn, &e.state, inFlight)
	}
	return nil
}

// checkReservation returns the size of the packet res reserved, or why
// the Tracker cannot take it over. It changes nothing.
func (t *Tracker) checkReservation(res *congestion.Reservation) (uint32, error) {
	switch f := res.Flight(); {
	case f == nil:
		return 0, ErrNoReservation
	case f != t.flight:
		return 0, ErrForeignReservation
	case res.Bytes() > math.MaxUint32:
		return 0, ErrPacketSize
	}
	return uint32(res.Bytes()), nil
}

// InFlight reports whether packet pn is tracked and in flight.
func (t *Tracker) InFlight(pn uint64) bool {
	_, e := t.pns.lookup(pn)
	return e != nil && word(e.state.Load()).inFlightAs(pn)
}

// Refresh re-registers packet pn after the resend path sent it again at
// now: a compare-and-swap that succeeds only while the packet is InFlight
// at generation gen, moving it to gen+1 and restamping its send time. It
// fails (false) for a packet acked, dropped or abandoned, never sent, or
// already refreshed past gen, and for gen at or above MaxRetransmits:
// nothing that left the flight comes back. It allocates nothing.
func (t *Tracker) Refresh(pn uint64, gen Generation, now monotime.Time) bool {
	if gen >= t.maxRetx || pn > MaxPacketNumber {
		return false
	}
	c, e := t.pns.lookup(pn)
	if c == nil || !c.tryRef() { // pin the chunk: the sent store below must hit this life
		return false
	}
	defer t.pns.unref(c)
	// Stamp the copy's send time before publishing its generation (see
	// entry), and only once the slot is seen to hold this packet in flight
	// at gen: the chunk is pinned, so it cannot start another life after
	// this check. If the compare-and-swap then loses to a concurrent
	// Refresh(pn, gen), both copies went out and either time is true; if
	// it loses to a resolution, the time is unused.
	from := pack(phaseInFlight, gen, pn)
	if e.state.Load() != from {
		return false
	}
	e.resent.Store(true)
	e.sent.Store(int64(now))
	if testHookRefresh != nil {
		testHookRefresh(false)
	}
	if !e.state.CompareAndSwap(from, pack(phaseInFlight, gen+1, pn)) {
		return false
	}
	if testHookRefresh != nil {
		testHookRefresh(true)
	}
	storeMax(&t.lastSent, int64(now))
	t.retransmits.pkts.Add(1) // Stats reports retransmits by count only
	return true
}

// Abandon gives up on packet pn whatever its generation, releasing its
// bytes if it was still in flight. It returns the bytes released (0 if the
// packet was not in flight). DueForResend abandons packets by itself after
// MaxRetransmits; Abandon is for callers that give up earlier.
func (t *Tracker) Abandon(pn uint64) uint64 {
	return t.resolveInFlight(pn, phaseAbandoned)
}

// DropStream removes every packet of stream from the tracker, releasing the
// bytes of those still in flight, and returns the bytes it released. It
// visits only that stream's packets. Packets of the stream being acked,
// abandoned or refreshed concurrently are each released once, by whichever
// transition wins. Call it when a stream ends, aborted or not: for a stream
// whose packets were all acked it releases 0 and frees the stream's list.
func (t *Tracker) DropStream(stream StreamID) uint64 {
	if stream == Control {
		return 0
	}
	r := t.streams.beginDrop(stream)
	if r == nil {
		return 0
	}
	var (
		total uint64
		buf   [dropBatch]uint64
	)
	for i := 0; ; {
		n := t.streams.nextBatch(stream, r, i, &buf)
		if n == 0 {
			break
		}
		i += n
		for _, pn := range buf[:n] {
			total += t.resolveInFlight(pn, phaseDropped)
		}
	}
	t.streams.endDrop(stream, r)
	return total
}

// resolveInFlight moves packet pn to phase to if it is in flight, retrying
// while a concurrent Refresh changes its generation, and returns the bytes
// released (0 if the packet was not in flight or another transition won).
func (t *Tracker) resolveInFlight(pn uint64, to phase) uint64 {
	c, e := t.pns.lookup(pn)
	if e == nil {
		return 0
	}
	for {
		s := e.state.Load()
		if !word(s).inFlightAs(pn) {
			return 0
		}
		if n, ok := t.resolve(c, e, pn, s, to); ok {
			return n
		}
	}
}

// testHookRefresh, if set (by tests only), runs in Refresh right before
// (published false) and right after (published true) the compare-and-swap
// that moves the packet to its next generation, so a test can run another
// operation at exactly those points.
var testHookRefresh func(published bool)

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
