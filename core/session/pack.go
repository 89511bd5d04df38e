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
	if s.maxDgram+secure.SealOverhead <= smallBuf {
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
	if err := s.cfg.Out.Send(s.Remote(), b.out[:b.n]); err != nil {
		s.stats.sendErrors.Add(1)
	}
	s.stats.packetsSent.Add(uint64(b.n))
	s.stats.bytesSent.Add(bytes)
	for i := 0; i < b.n; i++ {
		putBuf(b.pkts[i].buf)
		b.pkts[i] = outPacket{}
		b.out[i] = nil
	}
	b.n = 0
	batches.Put(b)
}

// content is what one packet will carry besides an ACK.
type content struct {
	retx    bool   // a retransmission of s.retx[0]
	stream  bool   // stream data [off, off+n)
	off     uint64 //
	n       int    //
	maxData bool   // a MAX_DATA frame
	ping    bool   // a PING frame (nothing else ack-eliciting)
	probe   bool   // leaves whatever the window and the pacer
}

func (c *content) eliciting() bool { return c.stream || c.maxData || c.ping }

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

// nextContentLocked decides the next packet's content, ACK aside.
func (s *Session) nextContentLocked() (content, blocked) {
	var c content
	c.probe = s.probes > 0
	c.maxData = s.maxDataDue
	if len(s.retx) > 0 {
		it := s.retx[0]
		c.retx, c.stream, c.off, c.n = true, true, it.off, int(it.n)
		return c, blockedNothing
	}
	why := blockedNothing
	if s.send.next < s.send.written {
		if s.send.next < s.credit {
			c.stream, c.off = true, s.send.next
			c.n = int(min(s.send.written, s.credit) - s.send.next) // cut to the packet later
		} else {
			why = blockedCredit
		}
	}
	if !c.stream && !c.maxData && (s.pingDue || c.probe) {
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

	if c.retx && s.send.isAcked(c.off, uint32(c.n)) {
		// Acknowledged since it was declared lost (a late ACK of the
		// original): nothing to send; resolve the lost packet.
		s.tr.Abandon(s.retx[0].lost)
		s.popRetx()
		s.stats.retxSkippedAcked.Add(1)
		return false, blockedNothing, nil
	}

	// Control frames first, then the ACK, sized to leave the stream frame
	// its room.
	var ctl [16]byte
	ctrl := ctl[:0]
	if c.maxData {
		ctrl = wire.AppendMaxDataFrame(ctrl, s.recv.grant())
	}
	if c.ping {
		ctrl = wire.AppendPing(ctrl)
	}
	streamLen := 0
	if c.stream {
		if c.retx {
			streamLen = wire.StreamFrameHeaderLen(messageStream, c.off, c.n, false) + c.n
			if streamLen+len(ctrl) > room {
				// The range was cut for a packet without these frames:
				// they wait for the next packet.
				ctrl, c.maxData = ctl[:0], false
			}
		} else {
			c.n = min(c.n, wire.StreamDataRoom(messageStream, c.off, dataRoom-len(ctrl), false))
			if c.n == 0 {
				return false, blockedNothing, nil
			}
			streamLen = wire.StreamFrameHeaderLen(messageStream, c.off, c.n, false) + c.n
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
	case !c.stream && !c.ping:
		// Control frames alone (MAX_DATA) are not held by the window: a
		// credit update must reach a peer whose data fills our window, or
		// both sides could wait on each other. They are paced like
		// everything else, so no burst leaves unpaced.
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
	if c.stream {
		stream = messageStream
	}
	if c.retx {
		it := s.retx[0]
		if err := s.tr.Retransmit(it.lost, pn, res, now); err != nil {
			s.popRetx()
			switch {
			case errors.Is(err, tracker.ErrAcked):
				s.send.onAcked(it.off, it.n)
				return false, blockedNothing, nil
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
		s.popRetx()
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
	if c.maxData {
		s.maxDataDue = false
	}
	if c.ping {
		s.pingDue = false
	}
	if c.probe {
		s.probes--
	}
	if !c.retx && c.stream {
		s.send.next += uint64(c.n)
	}
	s.log.put(pn, sentRecord{stream: c.stream, maxData: c.maxData, off: c.off, n: uint32(c.n)})
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
	if c.stream {
		pkt = wire.AppendStreamFrame(pkt, messageStream, c.off, nil, false, false)
		pkt = s.send.appendRange(pkt, c.off, c.n)
	}
	*p.buf = finish(pkt, p.hdrLen, pnLen)
	if len(*p.buf)+secure.SealOverhead != size {
		panic("session: packet size differs from its reservation")
	}
	return true, blockedNothing, nil
}

func (s *Session) popRetx() {
	s.retx[0] = retxItem{}
	s.retx = s.retx[1:]
	if len(s.retx) == 0 {
		s.retx = nil
	}
}
