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
	// MaxRetransmits is how often a packet's data may be retransmitted
	// (under new packet numbers, by Retransmit) before the next loss of
	// it abandons it instead of handing it out again. Zero means
	// DefaultMaxRetransmits; at most 127. A negative value means never
	// retransmit: a packet found lost is abandoned at once.
	MaxRetransmits int
}

// Errors.
var (
	// ErrDuplicate: OnSent or Retransmit was given a packet number already
	// registered (packet numbers are never reused, RFC 9000 section 12.3).
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

	// Retransmit's refusals. Each means: do not send the data again.

	// ErrNotLost: the packet is not awaiting retransmission: never sent,
	// still in flight (not declared lost), its data already retransmitted,
	// or resolved (acked, dropped, abandoned) and no longer tracked (the
	// more precise errors below need the packet's chunk to be still held).
	ErrNotLost = errors.New("tracker: packet not awaiting retransmission")
	// ErrAcked: the lost packet was acknowledged after all (a spurious
	// loss, reported in that ACK's AckResult).
	ErrAcked = errors.New("tracker: lost packet was acknowledged after all")
	// ErrDropped: the packet's stream was dropped.
	ErrDropped = errors.New("tracker: stream dropped")
	// ErrAbandoned: the packet was abandoned.
	ErrAbandoned = errors.New("tracker: packet abandoned")
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
// Retransmit on the connection's event loop; any interleaving keeps the
// invariants of the package doc. No lock is held across a call into the
// FlightSize or anything else outside the package. The zero value is not
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
	lostPending   atomic.Int64 // packets Lost: their data awaits Retransmit
	_             [40]byte

	largestAcked atomic.Uint64 // 1 + largest packet number acknowledged (0: none)
	lastSent     atomic.Int64  // latest send time of any packet
	_            [48]byte

	ctr         [phaseRetransmitted + 1]counter // released from InFlight, by phase reached: lost, acked, abandoned, dropped
	probed      counter                         // released from InFlight by a probe timeout
	retransmits counter                         // successful Retransmits (pkts only)
	spurious    counter                         // lost by a threshold, acknowledged later
	lateProbes  counter                         // probed, acknowledged later (pkts only)
	ptos        atomic.Uint64                   // PTO expirations seen by DueForResend

	// dropWalked, set by tests only (before the tracker is used), is told
	// how many packet numbers each DropStream examined: the evidence that
	// a drop visits its stream's packets and not the connection's
	// (invariant 3). Nil in production: one untaken branch per drop, none
	// per packet.
	dropWalked func(stream StreamID, walked int)
}

// New returns a Tracker of the packets whose bytes are counted in flight,
// the connection's flight counter: it takes over reservations made in
// flight (OnSent, Retransmit) and releases their bytes to it.
func New(flight *congestion.FlightSize, cfg Config) (*Tracker, error) {
	if flight == nil {
		return nil, errors.New("tracker: nil FlightSize")
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
	c, e, err := t.claim(pn)
	if err != nil {
		res.Cancel()
		return err
	}
	e.life.Store(c.life.Load())
	t.fill(e, size, now)
	res.Take() // the bytes are the Tracker's from here: nothing below fails
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
		t.streams.add(&t.pns, stream, pn, e, inFlight, nil, 0, 0)
	}
	return nil
}

// claim takes the slot of packet pn (phase Writing), holding a reference
// on its chunk for it, or fails with ErrWindow or ErrDuplicate having
// changed nothing. The slot's previous word may name pn from an earlier
// life of the chunk (another tracker's packet, chunks being shared): only
// a word of this life, or one not final (which no free chunk holds), is a
// duplicate.
func (t *Tracker) claim(pn uint64) (*chunk, *entry, error) {
	c, err := t.pns.acquire(pn)
	if err != nil {
		return nil, nil, err
	}
	e := &c.entries[pn&chunkMask]
	for {
		old := e.state.Load()
		if w := word(old); w.pn() == pn && w.phase() != phaseEmpty && (w.phase() < phaseAcked || e.life.Load() == c.life.Load()) {
			t.pns.unref(c)
			return nil, nil, ErrDuplicate
		}
		if e.state.CompareAndSwap(old, pack(phaseWriting, 0, pn)) {
			return c, e, nil
		}
	}
}

// unclaim gives back a slot claim took and that was never published.
func (t *Tracker) unclaim(c *chunk, e *entry) {
	e.state.Store(0) // Empty: no packet (a claimed slot is read by no one)
	t.pns.unref(c)
}

// fill writes the fields of a claimed slot and counts it in flight.
func (t *Tracker) fill(e *entry, size uint32, now monotime.Time) {
	e.sent.Store(int64(now))
	e.rec.Store(nil) // set by streams.add for a stream packet
	e.size.Store(size)
	t.inflightBytes.Add(uint64(size))
	t.inflightPkts.Add(1)
	storeMax(&t.lastSent, int64(now))
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

// Retransmit sends the data of lost packet lostPN again as packet newPN,
// sent at now, taking over res, the reservation of newPN's bytes (see
// below). It is one compare-and-swap that moves lostPN from Lost to
// Retransmitted (final) and registers newPN InFlight for the same stream,
// with generation lostPN's + 1; for a stream packet both happen under the
// stream's lock, so a DropStream either resolves lostPN first (and
// Retransmit fails) or finds newPN in the stream's list.
//
// It succeeds only while lostPN is Lost: handed out by DueForResend and
// not acknowledged, dropped, abandoned or retransmitted since. Otherwise
// it returns ErrAcked (a late ACK: the loss was spurious), ErrDropped,
// ErrAbandoned or ErrNotLost, and the caller must not send the data: that
// is what keeps dropped or acknowledged data from ever coming back. newPN
// is checked as by OnSent (ErrPacketNumber, ErrWindow, ErrDuplicate), and
// res as by OnSent. On every error nothing changed but res: its bytes are
// back in the FlightSize and newPN is free for another packet.
//
// The new packet's bytes are reserved like any packet's, before it is
// built: with FlightSize.TryReserveFor or ReserveFor against the window
// for a loss (RFC 9002 section 7: retransmissions are congestion
// controlled), with AddFor for a probe (Resend.Probe; section 7.5: probes
// are not blocked by the window). The lost packet's own bytes left the
// flight when it was declared lost. It allocates nothing in steady state.
func (t *Tracker) Retransmit(lostPN, newPN uint64, res *congestion.Reservation, now monotime.Time) error {
	size, err := t.checkReservation(res)
	if err == nil && (lostPN > MaxPacketNumber || newPN > MaxPacketNumber) {
		err = ErrPacketNumber
	}
	if err != nil {
		res.Cancel()
		return err
	}
	lc, le := t.pns.lookupPinned(lostPN)
	if le == nil {
		res.Cancel()
		return ErrNotLost
	}
	defer t.pns.unref(lc) // the pin
	var (
		from   uint64
		stream StreamID
	)
	for {
		from = le.state.Load()
		if w := word(from); w.pn() != lostPN || w.phase() != phaseLost {
			res.Cancel()
			return refusal(w, lostPN)
		}
		stream = le.stream()
		if le.state.Load() == from {
			break
		}
	}
	nc, ne, err := t.claim(newPN)
	if err != nil {
		res.Cancel()
		return err
	}
	gen := word(from).gen() + 1
	ne.sent.Store(int64(now))
	ne.rec.Store(nil) // set by streams.add for a stream packet
	ne.size.Store(size)
	ne.life.Store(nc.life.Load())
	inFlight := pack(phaseInFlight, gen, newPN)
	retransmitted := word(from).to(phaseRetransmitted, 0)
	var ok bool
	if stream == Control {
		if ok = le.state.CompareAndSwap(from, retransmitted); ok {
			t.pns.advance(newPN)
			ne.state.Store(inFlight)
		}
	} else {
		ok = t.streams.add(&t.pns, stream, newPN, ne, inFlight, &le.state, from, retransmitted)
	}
	if !ok {
		t.unclaim(nc, ne)
		res.Cancel()
		return refusal(word(le.state.Load()), lostPN)
	}
	res.Take()
	t.inflightBytes.Add(uint64(size))
	t.inflightPkts.Add(1)
	storeMax(&t.lastSent, int64(now))
	t.lostPending.Add(-1)
	t.retransmits.pkts.Add(1) // Stats reports retransmits by count only
	t.pns.unref(lc)           // lostPN's slot reference: it is final now
	return nil
}

// refusal says why Retransmit of packet pn, whose slot holds w, fails.
func refusal(w word, pn uint64) error {
	if w.pn() != pn {
		return ErrNotLost
	}
	switch w.phase() {
	case phaseAcked:
		return ErrAcked
	case phaseDropped:
		return ErrDropped
	case phaseAbandoned:
		return ErrAbandoned
	}
	return ErrNotLost
}

// InFlight reports whether packet pn is tracked and in flight.
func (t *Tracker) InFlight(pn uint64) bool {
	c, e := t.pns.lookupPinned(pn)
	if e == nil {
		return false
	}
	in := word(e.state.Load()).inFlightAs(pn)
	t.pns.unref(c)
	return in
}

// Abandon gives up on packet pn, in flight or lost, releasing its bytes if
// it was still in flight. It returns the bytes released (0 if the packet
// was lost, its bytes having left then, or already resolved). A lost
// packet abandoned is never retransmitted. DueForResend abandons packets by
// itself after MaxRetransmits; Abandon is for callers that give up
// earlier, or that decide not to resend a lost packet's data.
func (t *Tracker) Abandon(pn uint64) uint64 {
	return t.resolveAny(pn, phaseAbandoned)
}

// DropStream removes every packet of stream from the tracker, releasing the
// bytes of those still in flight, and returns the bytes it released. Lost
// packets of the stream are dropped too (they released their bytes when
// declared lost), so their data is never retransmitted. It visits only
// that stream's packets. Packets of the stream being acked, declared lost,
// abandoned or retransmitted concurrently are each released once, by
// whichever transition wins. Call it when a stream ends, aborted or not:
// for a stream whose packets were all resolved it releases 0 and frees the
// stream's list.
func (t *Tracker) DropStream(stream StreamID) uint64 {
	if stream == Control {
		return 0
	}
	r := t.streams.beginDrop(stream)
	if r == nil {
		return 0
	}
	var (
		total  uint64
		walked int
		buf    [dropBatch]uint64
	)
	for i := 0; ; {
		n := t.streams.nextBatch(stream, r, i, &buf)
		if n == 0 {
			break
		}
		i += n
		for _, pn := range buf[:n] {
			total += t.resolveAny(pn, phaseDropped)
		}
		walked = i
	}
	t.streams.endDrop(stream, r)
	if t.dropWalked != nil {
		t.dropWalked(stream, walked)
	}
	return total
}

// resolveAny moves packet pn to final phase to if it is in flight or lost,
// retrying while a concurrent loss declaration moves it from InFlight to
// Lost, and returns the bytes released (0 if the packet was lost, not
// tracked, or another transition won).
func (t *Tracker) resolveAny(pn uint64, to phase) uint64 {
	c, e := t.pns.lookupPinned(pn)
	if e == nil {
		return 0
	}
	defer t.pns.unref(c)
	for {
		s := e.state.Load()
		if !word(s).unresolvedAs(pn) {
			return 0
		}
		if n, ok := t.transition(c, e, pn, s, to, 0); ok {
			return n
		}
	}
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
