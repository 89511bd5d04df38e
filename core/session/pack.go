package session

// The send path. A goroutine that has something to send (a writer, the
// sender goroutine a writer handed its message to, the ACK path, a timer)
// calls pump, which repeats:
//
//  1. under mu, packLocked decides each packet's content (retransmissions
//     first, then new stream data, then control frames; an ACK rides on
//     every packet when one is pending), reserves its exact size in the
//     FlightSize against the controller's window (probes and control-only
//     packets are added whatever the window, RFC 9002 section 7.5), asks
//     the pacer, registers it in the tracker (OnSent, or Retransmit from the
//     lost packet number), records its content in the sent log, takes its
//     SealKey and writes header and frames in plaintext;
//  2. without mu, emit seals the batch on the calling goroutine and hands
//     it to the Sender in one call (runs of full-size packets leave as one
//     GSO send).
//
// A packet is registered before it is sealed and sent, so its ACK can never
// arrive first. ACK-only packets are not tracked, not counted in flight and
// not paced (RFC 9002 section 7: they are not congestion controlled; and a
// pure receiver's pacing rate stays at its initial window, which would
// throttle the peer's ACK clock).

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/tracker"
)

// maxBatch is the most packets one pump round packs and sends: what one
// sendmmsg moves comfortably (batchio.DefaultBatchSize is 64) while the
// session's lock is held only for the packing.
const maxBatch = 32

// outPacket is one packed packet waiting to be sealed.
type outPacket struct {
	buf    *[]byte // pooled storage
	hdrLen int
	pn     uint64
	key    *secure.SealKey
}

type batch struct {
	pkts [maxBatch]outPacket
	n    int
	seq  uint64 // emission order, taken with the packet numbers under mu
	out  [maxBatch][]byte
	res  congestion.Reservation
	// mtuProbe is the size of the path MTU probe that ends the batch (0:
	// none), mtuProbePN its packet number.
	mtuProbe   int
	mtuProbePN uint64
}

var batches = sync.Pool{New: func() any { return new(batch) }}

// packet buffers: 2 KiB holds a default 1200-byte datagram and its tag; a
// session configured above that uses the large pool.
const smallBuf = 2048

var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}
	largeBufs = sync.Pool{New: func() any { b := make([]byte, 0, wire.MaxPacketSize+secure.SealOverhead); return &b }}
)

func (s *Session) getBuf() *[]byte {
	if !s.bigBufs {
		return smallBufs.Get().(*[]byte)
	}
	return largeBufs.Get().(*[]byte)
}

func putBuf(b *[]byte) {
	*b = (*b)[:0]
	if cap(*b) == smallBuf {
		smallBufs.Put(b)
	} else {
		largeBufs.Put(b)
	}
}

// blocked says why packLocked stopped.
type blocked uint8

const (
	blockedNothing blocked = iota // nothing (more) to send
	blockedFull                   // the batch is full: call again
	blockedWindow                 // the congestion window is full
	blockedPacing                 // the pacer holds the next packet (timer armed)
	blockedCredit                 // the peer's flow-control limit
	blockedClosed                 // the session ended
)

// pump packs and sends until nothing more can leave now, and reports why it
// stopped.
func (s *Session) pump(now monotime.Time) blocked {
	for {
		b := batches.Get().(*batch)
		s.mu.Lock()
		why, err := s.packLocked(b, now)
		if b.n > 0 {
			b.seq = s.emitSeq
			s.emitSeq++
		}
		s.mu.Unlock()
		if b.n > 0 {
			s.seal(b)
			s.out.deliver(s, b)
		} else {
			batches.Put(b)
		}
		if err != nil {
			s.fail(err, CodeInternal)
			return blockedClosed
		}
		if why != blockedFull {
			return why
		}
	}
}

// seal seals the batch's packets on the calling goroutine.
func (s *Session) seal(b *batch) {
	for i := 0; i < b.n; i++ {
		p := &b.pkts[i]
		b.out[i] = p.key.Seal(*p.buf, p.hdrLen, p.pn)
	}
}

// emitter hands sealed batches to the Sender in the order their packet
// numbers were taken. Writers seal in parallel, but a batch sealed early
// must not overtake one packed before it: the peer would see a gap, ACK
// around it, and the packet threshold (RFC 9002 section 6.1.1) would
// declare the overtaken packets lost — spurious losses that halve the
// window. Whoever finds the next batch in order sends it and every batch
// ready after it (flat combining); the others leave theirs and return.
//
// Guard map: mu guards every field.
type emitter struct {
	mu      sync.Mutex
	next    uint64   // seq of the next batch to send
	ready   []*batch // sealed batches, index seq-next
	sending bool     // a goroutine is sending: it will take what is ready
}

func (e *emitter) deliver(s *Session, b *batch) {
	e.mu.Lock()
	i := int(b.seq - e.next)
	for len(e.ready) <= i {
		e.ready = append(e.ready, nil)
	}
	e.ready[i] = b
	if e.sending {
		e.mu.Unlock()
		return
	}
	e.sending = true
	for len(e.ready) > 0 && e.ready[0] != nil {
		b := e.ready[0]
		copy(e.ready, e.ready[1:])
		e.ready[len(e.ready)-1] = nil
		e.ready = e.ready[:len(e.ready)-1]
		e.next++
		e.mu.Unlock()
		s.transmit(b)
		e.mu.Lock()
	}
	e.sending = false
	e.mu.Unlock()
}

// transmit hands one sealed batch to the Sender and recycles it.
func (s *Session) transmit(b *batch) {
	var bytes uint64
	for i := 0; i < b.n; i++ {
		bytes += uint64(len(b.out[i]))
	}
	err := s.cfg.Out.Send(s.Remote(), b.out[:b.n])
	if err != nil {
		s.stats.sendErrors.Add(1)
		s.onSendError(err, b, s.cfg.Clock())
	}
	s.stats.packetsSent.Add(uint64(b.n))
	s.stats.bytesSent.Add(bytes)
	for i := 0; i < b.n; i++ {
		putBuf(b.pkts[i].buf)
		b.pkts[i] = outPacket{}
		b.out[i] = nil
	}
	b.n, b.mtuProbe, b.mtuProbePN = 0, 0, 0
	batches.Put(b)
	if errors.Is(err, net.ErrClosed) {
		// The socket is gone, not a packet: nothing will leave again. The
		// session ends, and its streams with it, through the abort path.
		s.fail(err, CodeInternal)
	}
}

// content is what one packet will carry besides an ACK.
type content struct {
	retx       bool    // a retransmission of s.retx[0]
	st         *Stream // stream data of st: [off, off+n), then a FIN if fin
	off        uint64  //
	n          int     //
	fin        bool    //
	maxData    bool    // a MAX_DATA frame
	maxStreams bool    // a MAX_STREAMS frame
	ctl        *Stream // its MAX_STREAM_DATA and STREAM_ABORT frames, those due
	ping       bool    // a PING frame (nothing else ack-eliciting)
	probe      bool    // leaves whatever the window and the pacer
	split      bool    // a retransmission cut to fit: the rest of s.retx[0] stays queued
}

func (c *content) eliciting() bool {
	return c.st != nil || c.maxData || c.maxStreams || c.ctl != nil || c.ping
}

// controlOnly reports whether the packet carries control frames alone.
func (c *content) controlOnly() bool { return c.st == nil && !c.ping }

// maxPNLen is the packet-number length the stream data of a packet is sized
// for: a retransmission must fit under any later number's header (RFC 9000
// section 17.1 lets the length grow with the unacknowledged range), at the
// cost of at most 3 bytes per packet.
const maxPNLen = 4

// packLocked packs packets into b until the batch is full or nothing more
// may leave.
func (s *Session) packLocked(b *batch, now monotime.Time) (blocked, error) {
	if s.closed {
		return blockedClosed, nil
	}
	if !s.confirmed {
		return blockedNothing, nil // a responder waits for the peer's first packet
	}
	if s.pm.due && !s.pm.inFlight && s.hasAcked {
		// A path MTU probe leaves in a batch of its own (see pmtud.go).
		if err := s.packMTUProbeLocked(b, now); err != nil {
			return blockedNothing, err
		}
		return blockedFull, nil
	}
	why := blockedNothing
	for b.n < maxBatch {
		c, w := s.nextContentLocked()
		if w != blockedNothing {
			why = w
		}
		if !c.eliciting() {
			if !s.acks.now || !s.acks.pending {
				return why, nil
			}
			if err := s.packAckOnlyLocked(b, now); err != nil {
				return why, err
			}
			continue
		}
		sent, w, err := s.packElicitingLocked(b, &c, now)
		if err != nil {
			return why, err
		}
		if !sent {
			if w == blockedNothing {
				continue // a retransmission turned out needless: look again
			}
			if !s.acks.now || !s.acks.pending {
				return w, nil
			}
			// The window or the pacer holds data back, but an ACK is
			// due: it leaves on its own.
			if err := s.packAckOnlyLocked(b, now); err != nil {
				return w, err
			}
			return w, nil
		}
	}
	return blockedFull, nil
}

// nextContentLocked decides the next packet's content, ACK aside:
// retransmissions first, then the control frames due, then new data of the
// stream at the head of the send queue (round-robin: after each packet the
// stream goes to the back of the queue, so concurrent streams share the
// connection packet by packet, the message stream among them).
func (s *Session) nextContentLocked() (content, blocked) {
	var c content
	c.probe = s.probes > 0
	c.maxData = s.connGrantDue
	c.maxStreams = s.maxStreamsDue
	for s.ctlq.len() > 0 {
		st := s.ctlq.front()
		if st.grantDue || st.abortDue {
			c.ctl = st
			break
		}
		s.ctlq.pop()
		st.inCtlq = false
	}
	if len(s.retx) > 0 {
		it := s.retx[0]
		c.retx, c.st, c.off, c.n, c.fin = true, it.st, it.off, int(it.n), it.fin
		return c, blockedNothing
	}
	why := blockedNothing
	for s.sendq.len() > 0 {
		st := s.sendq.front()
		if st.err != nil || !st.hasSendableLocked() {
			s.sendq.pop()
			st.queued = false
			continue
		}
		avail := st.send.written - st.send.next
		if avail > 0 {
			if st.send.next >= st.credit {
				// Blocked by the stream's own limit: out of the queue
				// until the peer's MAX_STREAM_DATA puts it back.
				s.sendq.pop()
				st.queued = false
				why = blockedCredit
				continue
			}
			if s.connSent >= s.connCredit {
				why = blockedCredit // every stream waits for MAX_DATA
				break
			}
			avail = min(avail, st.credit-st.send.next, s.connCredit-s.connSent)
		}
		c.st, c.off, c.n = st, st.send.next, int(min(avail, 1<<30)) // cut to the packet later
		break
	}
	if c.st == nil && !c.maxData && !c.maxStreams && c.ctl == nil && (s.pingDue || c.probe) {
		c.ping = true
	}
	return c, why
}

// packAckOnlyLocked packs a packet that carries only an ACK.
func (s *Session) packAckOnlyLocked(b *batch, now monotime.Time) error {
	pn := s.nextPN
	pnLen := wire.PacketNumberLen(pn, s.largestAcked, s.hasAcked)
	room := s.maxDgram - secure.SealOverhead - wire.ShortHeaderLen(pnLen)
	s.ackBuf = s.acks.appendFrame(s.ackBuf[:0], room, now)
	if len(s.ackBuf) == 0 {
		return nil
	}
	key, err := s.prot.SealKey(pn, now)
	if err != nil {
		return err
	}
	s.nextPN++
	p := &b.pkts[b.n]
	b.n++
	p.buf, p.pn, p.key = s.getBuf(), pn, key
	pkt := wire.AppendShortHeader((*p.buf)[:0], &wire.ShortHeader{KeyPhase: key.Phase(), DCID: s.cfg.RemoteCID, PN: pn, PNLen: pnLen})
	p.hdrLen = len(pkt)
	pkt = append(pkt, s.ackBuf...)
	*p.buf = finish(pkt, p.hdrLen, pnLen)
	s.stats.ackOnlySent.Add(1)
	s.cfg.Wheel.Cancel(&s.ackTimer)
	return nil
}

// finish pads a packet too short to sample (the AEAD needs none, but a
// zero-length payload is refused by the parser) and writes its Length.
func finish(pkt []byte, hdrLen, pnLen int) []byte {
	if len(pkt) == hdrLen {
		pkt = wire.AppendPadding(pkt, 1)
	}
	if err := wire.PutLength(pkt, pnLen+len(pkt)-hdrLen+secure.SealOverhead); err != nil {
		panic("session: packet larger than the codec allows: " + err.Error())
	}
	return pkt
}

// packElicitingLocked packs one ack-eliciting packet with content c. It
// reports whether it packed one; if not, why (blockedNothing: c turned out
// to need no packet, look again).
func (s *Session) packElicitingLocked(b *batch, c *content, now monotime.Time) (bool, blocked, error) {
	pn := s.nextPN
	pnLen := wire.PacketNumberLen(pn, s.largestAcked, s.hasAcked)
	hdrLen := wire.ShortHeaderLen(pnLen)
	room := s.maxDgram - secure.SealOverhead - hdrLen
	dataRoom := s.maxDgram - secure.SealOverhead - wire.ShortHeaderLen(maxPNLen)

	if c.retx {
		it := s.retx[0]
		if it.claimed && (it.st.err != nil || it.st.removed) {
			// Defence in depth: an ended stream's items leave the queue
			// with it (dropRetxLocked), and nothing of it may be sent.
			s.popRetx()
			return false, blockedNothing, nil
		}
		if (it.n == 0 || it.st.send.isAcked(it.off, it.n)) && (!it.fin || it.st.finAcked) {
			// Acknowledged since it was declared lost (a late ACK of the
			// original): nothing to send; resolve the lost packet (a
			// claimed rest's was resolved by the Retransmit that claimed it).
			if !it.claimed {
				s.tr.Abandon(it.lost)
			}
			s.popRetx()
			s.stats.retxSkippedAcked.Add(1)
			return false, blockedNothing, nil
		}
	}

	// Control frames first, then the ACK, sized to leave the stream frame
	// its room.
	var ctl [96]byte
	ctrl := s.appendControlLocked(ctl[:0], c)
	streamLen := 0
	if c.st != nil {
		id := c.st.id
		if c.retx {
			streamLen = wire.StreamFrameHeaderLen(id, c.off, c.n, false) + c.n
			if streamLen+len(ctrl) > room {
				// The range was cut for a packet without these frames:
				// they wait for the next packet.
				c.maxData, c.maxStreams, c.ctl = false, false, nil
				ctrl = s.appendControlLocked(ctl[:0], c)
			}
			if streamLen > dataRoom {
				// Cut for a larger datagram than the path now carries (a
				// black-hole fallback, pmtud.go): this packet takes what
				// fits, the rest stays queued (splitRetxLocked).
				c.n = wire.StreamDataRoom(id, c.off, dataRoom, false)
				c.fin, c.split = false, true
				streamLen = wire.StreamFrameHeaderLen(id, c.off, c.n, false) + c.n
			}
		} else {
			c.n = min(c.n, wire.StreamDataRoom(id, c.off, dataRoom-len(ctrl), false))
			c.fin = c.st.finWritten && c.off+uint64(c.n) == c.st.send.written
			if c.n == 0 && !c.fin {
				return false, blockedNothing, nil
			}
			streamLen = wire.StreamFrameHeaderLen(id, c.off, c.n, false) + c.n
		}
	}
	s.ackBuf = s.ackBuf[:0]
	if s.acks.pending {
		s.ackBuf, _ = s.acks.encode(s.ackBuf, room-len(ctrl)-streamLen, now)
	}
	size := hdrLen + len(ctrl) + len(s.ackBuf) + streamLen + secure.SealOverhead

	// Window and pacer.
	res := &b.res
	prior := s.flight.Load()
	switch {
	case c.probe:
		// Probes leave whatever the window and the pacer (RFC 9002
		// section 7.5): they exist to elicit an ACK when nothing else can.
		s.flight.AddFor(res, uint64(size))
	case c.controlOnly():
		// Control frames alone (MAX_DATA, MAX_STREAM_DATA, STREAM_ABORT,
		// MAX_STREAMS) are not held by the window: a credit update must
		// reach a peer whose data fills our window, or both sides could
		// wait on each other, and an abort must leave at once to free
		// the peer's side. They are paced like everything else, so no
		// burst leaves unpaced.
		s.flight.AddFor(res, uint64(size))
		if at := s.pacer.NextSendTime(now, uint64(size)); at > now {
			res.Cancel()
			s.cfg.Wheel.Add(&s.paceTimer, at)
			return false, blockedPacing, nil
		}
	default:
		if !s.flight.TryReserveFor(res, uint64(size), s.cc.Window()) {
			return false, blockedWindow, nil
		}
		if at := s.pacer.NextSendTime(now, uint64(size)); at > now {
			res.Cancel()
			s.cfg.Wheel.Add(&s.paceTimer, at)
			return false, blockedPacing, nil
		}
	}

	// Register: from here the tracker owns the bytes.
	var stream tracker.StreamID = tracker.Control
	if c.st != nil {
		stream = tracker.StreamID(c.st.id)
	}
	if c.retx && s.retx[0].claimed {
		// The rest of a split range: the Retransmit that sent its first
		// piece already claimed the lost packet (splitRetxLocked).
		if err := s.tr.OnSent(pn, stream, res, now); err != nil {
			return false, blockedNothing, err
		}
		s.splitRetxLocked(c)
		s.stats.retransmits.Add(1)
	} else if c.retx {
		it := s.retx[0]
		if err := s.tr.Retransmit(it.lost, pn, res, now); err != nil {
			s.popRetx()
			switch {
			case errors.Is(err, tracker.ErrAcked):
				s.ackedRangeLocked(it.st, it.off, it.n, it.fin, now)
				return false, blockedNothing, nil
			case errors.Is(err, tracker.ErrDropped):
				return false, blockedNothing, nil // the stream ended meanwhile
			case errors.Is(err, tracker.ErrAbandoned):
				return false, blockedNothing, ErrRetransmitLimit
			}
			// A lost range the tracker no longer knows as lost would be
			// neither sent nor acknowledged: the stream would stall until
			// the idle timeout. Late ACKs are settled when they arrive
			// (retireAckedRetxLocked), so this is a bug: end the session
			// loudly rather than stall it.
			return false, blockedNothing, fmt.Errorf("session: retransmission of packet %d refused: %w", it.lost, err)
		}
		s.splitRetxLocked(c)
		s.stats.retransmits.Add(1)
	} else if err := s.tr.OnSent(pn, stream, res, now); err != nil {
		return false, blockedNothing, err
	}
	s.largestTracked, s.hasTracked = pn, true
	key, err := s.prot.SealKey(pn, now)
	if err != nil {
		return false, blockedNothing, err
	}
	s.nextPN++
	if s.acks.pending && len(s.ackBuf) > 0 {
		s.acks.commit(now)
		s.cfg.Wheel.Cancel(&s.ackTimer)
	}
	rec := sentRecord{st: c.st, off: c.off, n: uint32(c.n), size: uint32(size), fin: c.fin, maxData: c.maxData, maxStreams: c.maxStreams}
	if c.maxData {
		s.connGrantDue = false
	}
	if c.maxStreams {
		s.maxStreamsDue = false
	}
	if c.ctl != nil {
		rec.ctl, rec.ctlGrant, rec.ctlAbort = c.ctl, c.ctl.grantDue, c.ctl.abortDue
		c.ctl.grantDue, c.ctl.abortDue = false, false
		if s.ctlq.len() > 0 && s.ctlq.front() == c.ctl {
			s.ctlq.pop()
			c.ctl.inCtlq = false
		}
	}
	if c.ping {
		s.pingDue = false
	}
	if c.probe {
		s.probes--
	}
	if !c.retx && c.st != nil {
		s.sentNewLocked(c.st, c.n, c.fin, now)
	}
	s.log.put(pn, rec)
	s.cc.OnPacketSent(now, uint64(size), prior)
	s.pacer.OnPacketSent(now, uint64(size))
	s.lastSent = now
	if !s.lossTimer.Pending() {
		// An ack-eliciting packet is in flight: a probe timeout must be
		// armed (RFC 9002 section 6.2.1), or a flight lost whole after
		// every earlier packet was acknowledged would never be detected.
		// Firing early is harmless: loss detection re-arms for its own
		// deadline.
		s.cfg.Wheel.Add(&s.lossTimer, now.Add(s.rtt.PTO()))
	}

	p := &b.pkts[b.n]
	b.n++
	p.buf, p.pn, p.key = s.getBuf(), pn, key
	pkt := wire.AppendShortHeader((*p.buf)[:0], &wire.ShortHeader{KeyPhase: key.Phase(), DCID: s.cfg.RemoteCID, PN: pn, PNLen: pnLen})
	p.hdrLen = len(pkt)
	pkt = append(pkt, ctrl...)
	pkt = append(pkt, s.ackBuf...)
	if c.st != nil {
		pkt = wire.AppendStreamFrame(pkt, c.st.id, c.off, nil, c.fin, false)
		pkt = c.st.send.appendRange(pkt, c.off, c.n)
	}
	*p.buf = finish(pkt, p.hdrLen, pnLen)
	if len(*p.buf)+secure.SealOverhead != size {
		panic("session: packet size differs from its reservation")
	}
	return true, blockedNothing, nil
}

// appendControlLocked appends the control frames c carries.
func (s *Session) appendControlLocked(dst []byte, c *content) []byte {
	if c.maxData {
		dst = wire.AppendMaxDataFrame(dst, s.connLimit)
	}
	if c.maxStreams {
		dst = wire.AppendMaxStreamsFrame(dst, s.localMaxStreams)
	}
	if st := c.ctl; st != nil {
		if st.grantDue {
			limit := st.limit
			if st == s.msg {
				limit = s.recv.grant()
			}
			dst = wire.AppendMaxStreamDataFrame(dst, st.id, limit)
		}
		if st.abortDue {
			dst = wire.AppendStreamAbortFrame(dst, st.id, st.abortCode, st.abortFin)
		}
	}
	if c.ping {
		dst = wire.AppendPing(dst)
	}
	return dst
}

// sentNewLocked books n new bytes (and the FIN) of st as sent: the
// stream's and the connection's send offsets move, the stream goes to the
// back of the send queue if it has more, and its parked writer wakes (its
// buffer has room now).
func (s *Session) sentNewLocked(st *Stream, n int, fin bool, now monotime.Time) {
	st.send.next += uint64(n)
	s.connSent += uint64(n)
	if st != s.msg {
		s.unsent -= uint64(n)
	}
	if fin {
		st.finSent = true
	}
	st.sendProg = now
	if s.sendq.len() > 0 && s.sendq.front() == st {
		s.sendq.pop()
		if st.hasSendableLocked() {
			s.sendq.push(st)
		} else {
			st.queued = false
		}
	}
	if n > 0 {
		st.wakeWriter()
	}
}

// splitRetxLocked retires the head of the retransmission queue, which the
// packet with content c just sent: all of it, or, for a range cut to fit
// (c.split), its first c.n bytes, the rest staying at the head as a
// claimed item.
//
// One lost packet becoming several new ones keeps invariant 2 (no
// resurrection) without a second compare-and-swap: the first piece's
// Retransmit is the one compare-and-swap from Lost, deciding for the whole
// range (it fails once the data was acknowledged or the stream dropped,
// and then nothing is sent); what can make the rest needless afterwards is
// seen here under mu before each piece leaves:
//   - a DropStream of the stream runs only in abortStreamLocked and
//     maybeRemoveLocked, both under mu, and the former forgets the
//     stream's queued retransmissions (dropRetxLocked), claimed ones too;
//     maybeRemoveLocked runs once every byte was acknowledged;
//   - a late ACK of the lost packet retires the item by its packet number
//     (retireAckedRetxLocked), the claimed rest with it;
//   - any other ACK of the bytes (an earlier transmission's) shows in the
//     stream's acknowledged ranges, checked before packing.
//
// Each piece is registered as a new packet of the stream (OnSent), so the
// tracker's generation count restarts for the pieces: the abandon limit
// then counts from the fallback.
func (s *Session) splitRetxLocked(c *content) {
	if !c.split {
		s.popRetx()
		return
	}
	it := &s.retx[0]
	it.off += uint64(c.n)
	it.n -= uint32(c.n)
	it.claimed = true
}

func (s *Session) popRetx() {
	s.retx[0] = retxItem{}
	s.retx = s.retx[1:]
	if len(s.retx) == 0 {
		s.retx = nil
	}
}
