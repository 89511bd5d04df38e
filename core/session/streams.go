package session

// Byte streams on a session: opening and accepting, the frames that act on
// a stream, flow control with auto-tuned windows, and the one function
// every early end of a stream goes through (abortStreamLocked).
//
// Stream ids: stream 0 is the message stream. Byte streams are numbered
// per side from 1: the k-th stream the initiator opens has id 4k, the k-th
// the responder opens 4k+1 (RFC 9000 section 2.1's low bits, bidirectional
// only). Opening a stream implicitly opens every lower-numbered stream of
// the same side (RFC 9000 section 3.2), so a peer's streams are accepted in
// order even when their first frames arrive out of order.
//
// Flow control (RFC 9000 section 4): each stream has a limit the peer
// grants (MAX_STREAM_DATA), and the connection a limit on the sum of every
// stream's highest offset (MAX_DATA), the message stream included. The
// receiver grants a window past what its reader consumed once less than
// half of it is left; a window consumed within a few round trips doubles,
// up to a maximum (the auto-tuning of quic-go's flowcontrol package), so
// it grows toward the path's bandwidth-delay product. Concurrent streams
// are limited by a cumulative count the receiver raises (MAX_STREAMS) as
// the peer's streams end.

import (
	"context"
	"time"

	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/tracker"
)

// side is this session's stream-id low bits: 0 for the initiator, 1 for
// the responder.
func (s *Session) side() uint64 {
	if s.cfg.Responder {
		return 1
	}
	return 0
}

// newStreamLocked makes stream id and registers it.
func (s *Session) newStreamLocked(id uint64, local bool, now monotime.Time) *Stream {
	st := &Stream{
		s:      s,
		id:     id,
		local:  local,
		rdCh:   make(chan struct{}, 1),
		wrCh:   make(chan struct{}, 1),
		credit: s.cfg.Peer.InitialMaxStreamData,
		limit:  s.cfg.Local.InitialMaxStreamData,
		window: s.cfg.Local.InitialMaxStreamData,
	}
	st.limitPub.Store(st.limit)
	st.send.id = id
	st.epochAt, st.sendProg, st.recvProg = now, now, now
	st.timer.Init(s.cfg.Wheel, st.onTimer)
	if s.streams == nil {
		s.streams = make(map[uint64]*Stream)
	}
	s.streams[id] = st
	s.stats.streamsOpened.Add(1)
	if !local {
		st.armTimerLocked(now)
	}
	return st
}

// OpenStream opens a new stream to the peer. It parks while the peer's
// limit of concurrent streams is reached, until the peer raises it, ctx
// ends (ctx.Err()) or the session ends. Nothing is sent until the first
// Write (or CloseWrite): the peer learns of the stream from its first
// frame.
func (s *Session) OpenStream(ctx context.Context) (*Stream, error) {
	for {
		s.mu.Lock()
		if s.closed {
			err := s.closeErr
			s.mu.Unlock()
			return nil, err
		}
		if s.localOpened < s.peerMaxStreams {
			s.localOpened++
			st := s.newStreamLocked(4*s.localOpened+s.side(), true, s.cfg.Clock())
			s.mu.Unlock()
			return st, nil
		}
		ch := s.openable.prepare()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			s.openable.done(true)
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			s.openable.done(false)
			s.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// AcceptStream returns the next stream the peer opened, in the order of
// their ids. It parks until one arrives, ctx ends (ctx.Err()) or the
// session ends (its end reason; streams that arrived before are returned
// first).
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	for {
		s.mu.Lock()
		if len(s.accepts) > 0 {
			st := s.accepts[0]
			s.accepts[0] = nil
			s.accepts = s.accepts[1:]
			if len(s.accepts) == 0 {
				s.accepts = nil
			}
			st.accepted = true
			s.mu.Unlock()
			return st, nil
		}
		if s.closed {
			err := s.closeErr
			s.mu.Unlock()
			return nil, err
		}
		ch := s.acceptable.prepare()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			s.acceptable.done(true)
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			s.acceptable.done(false)
			s.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// streamLocked finds the stream a frame names, opening the peer's streams
// up to it. It returns nil for a stream that already ended (its late
// frames are ignored) and ErrProtocol for an id the peer may not use.
func (s *Session) streamLocked(id uint64, now monotime.Time) (*Stream, error) {
	if st, ok := s.streams[id]; ok {
		return st, nil
	}
	k := id >> 2
	switch id & 3 {
	case s.side(): // ours
		if k == 0 || k > s.localOpened {
			return nil, ErrProtocol // a stream we never opened
		}
		return nil, nil
	case s.side() ^ 1: // the peer's
		if k == 0 {
			return nil, ErrProtocol
		}
		if k > s.localMaxStreams {
			return nil, ErrProtocol // RFC 9000 section 4.6: STREAM_LIMIT_ERROR
		}
		if k <= s.peerOpened {
			return nil, nil
		}
		var st *Stream
		for j := s.peerOpened + 1; j <= k; j++ {
			st = s.newStreamLocked(4*j+(s.side()^1), false, now)
			s.accepts = append(s.accepts, st)
		}
		s.peerOpened = k
		s.acceptable.wake()
		return st, nil
	}
	return nil, ErrProtocol // unidirectional ids are not used
}

// onStreamFrameLocked applies a STREAM frame of a byte stream.
func (s *Session) onStreamFrameLocked(f *wire.StreamFrame, now monotime.Time) error {
	st, err := s.streamLocked(f.ID, now)
	if st == nil || err != nil {
		return err
	}
	end := f.Offset + uint64(len(f.Data))
	if end > st.limit || (st.finRecv && end > st.final) {
		return ErrProtocol // RFC 9000 sections 4.1 and 4.5
	}
	if f.Fin {
		if st.finRecv && end != st.final || end < st.recvHi {
			return ErrProtocol // RFC 9000 section 4.5: FINAL_SIZE_ERROR
		}
	}
	if err := s.raiseRecvLocked(st, end); err != nil {
		return err
	}
	if f.Fin && !st.finRecv {
		st.finRecv, st.final = true, end
		st.finalA.Store(end + 1)
	}
	if st.discard {
		s.settleLocked(st)
		return nil
	}
	front := st.rx.frontier.Load()
	moved := false
	if end > front {
		data, off := f.Data, f.Offset
		if off < front {
			data, off = data[front-off:], front
		}
		moved = st.rx.writeLocked(off, data)
		st.recvProg = now
	}
	if moved || f.Fin {
		st.wakeReader()
	}
	return nil
}

// raiseRecvLocked accounts bytes up to end of st as received against the
// connection's limit.
func (s *Session) raiseRecvLocked(st *Stream, end uint64) error {
	if end <= st.recvHi {
		return nil
	}
	s.connRecvd += end - st.recvHi
	st.recvHi = end
	if s.connRecvd > s.connLimit {
		return ErrProtocol // RFC 9000 section 4.1: FLOW_CONTROL_ERROR
	}
	return nil
}

// settleLocked credits the connection window with the bytes of a stream
// whose reading stopped, once no reader copies from it any more.
func (s *Session) settleLocked(st *Stream) {
	if !st.rx.dead() || st.rx.state.Load()&rxReading != 0 {
		return // the reader's exit frees and settles
	}
	// The bytes the reader consumed were credited by its reads (onRead),
	// those of an EOF included: only the rest is credited here.
	st.acctHi = max(st.acctHi, st.rx.consumed.Load())
	if st.recvHi > st.acctHi {
		s.connConsumed.Add(st.recvHi - st.acctHi)
		st.acctHi = st.recvHi
	}
	s.maybeConnGrantLocked(s.cfg.Clock())
	if st.finRecv {
		st.recvEnd = true
		s.maybeRemoveLocked(st)
	}
}

// onStreamAbortLocked applies the peer's STREAM_ABORT: the stream ends in
// both directions; the peer's final size settles the connection window.
func (s *Session) onStreamAbortLocked(f *wire.StreamAbortFrame, now monotime.Time) error {
	if f.ID == messageStream {
		return ErrProtocol // the message stream ends only with the session
	}
	st, err := s.streamLocked(f.ID, now)
	if st == nil || err != nil {
		return err
	}
	if f.FinalSize < st.recvHi || (st.finRecv && f.FinalSize != st.final) || f.FinalSize > st.limit {
		return ErrProtocol // RFC 9000 section 4.5
	}
	if err := s.raiseRecvLocked(st, f.FinalSize); err != nil {
		return err
	}
	st.finRecv, st.final = true, f.FinalSize
	st.finalA.Store(f.FinalSize + 1)
	s.abortStreamLocked(st, f.ErrorCode, nil, true)
	st.recvEnd = true // the peer sends nothing more; what was not read is dropped
	s.settleLocked(st)
	s.maybeRemoveLocked(st)
	return nil
}

// onMaxStreamDataLocked raises a stream's send credit.
func (s *Session) onMaxStreamDataLocked(f *wire.MaxStreamDataFrame, now monotime.Time) error {
	var st *Stream
	if f.ID == messageStream {
		st = s.msg
	} else {
		var err error
		if st, err = s.streamLocked(f.ID, now); st == nil || err != nil {
			return err
		}
	}
	if f.Maximum > st.credit {
		st.credit = f.Maximum
		if !st.queued && st.err == nil && st.hasSendableLocked() {
			st.queued = true
			s.sendq.push(st)
		}
		st.wakeWriter()
		s.signalLocked()
	}
	return nil
}

// hasSendableLocked reports whether the stream has bytes or a FIN never
// sent.
func (st *Stream) hasSendableLocked() bool {
	return st.send.next < st.send.written || (st.finWritten && !st.finSent)
}

// onMaxStreamsLocked raises the count of streams this side may open.
func (s *Session) onMaxStreamsLocked(n uint64) {
	if n > s.peerMaxStreams {
		s.peerMaxStreams = n
		s.openable.wake()
	}
}

// abortStreamLocked ends st early, whatever the cause: the window-wait
// timeout, the inactivity timeout, ReadFrom's reader failing, the peer's
// STREAM_ABORT (remote), Abort, the session's end. It is the only path by
// which a stream ends early (DESIGN.md, "Abort"):
//
//   - the stream's packets leave the tracker (tracker.DropStream): the
//     bytes of those in flight leave the FlightSize at once, exactly those,
//     each once (the tracker's compare-and-swap), and lost ones are never
//     sent again; its queued retransmissions are forgotten and its send
//     buffer goes back to the pool, so its data cannot leave again;
//   - reading stops: the reassembly buffer is freed (at once, or by the
//     reader copying out of it when it finishes the copy), and every byte
//     received is credited back to the connection window;
//   - the peer is told in a STREAM_ABORT with the stream's final size,
//     unless the session is ending or the stream's sending direction had
//     ended and the peer ended its own (nothing left to stop);
//   - parked readers and writers wake to the *StreamAbortError.
//
// A packet reserved in the flight and never registered is not the
// stream's: packLocked cancels such a reservation itself before it
// returns, under the same lock, so no abort can see one.
func (s *Session) abortStreamLocked(st *Stream, code uint64, cause error, remote bool) {
	if st.err != nil || st.removed || (st.sendEnd && st.recvEnd) {
		return
	}
	st.err = &StreamAbortError{Code: code, Remote: remote, Cause: cause}
	released := s.tr.DropStream(tracker.StreamID(st.id))
	if released > 0 {
		s.forgetDroppedLocked(st)
	}
	s.stats.streamsAborted.Add(1)
	s.stats.abortReleased.Add(released)
	s.dropRetxLocked(st)
	s.unsent -= st.send.written - st.send.next // never to be sent
	st.send.release()
	if !st.sendEnd && !s.closed {
		// Tell the peer: it stops sending and learns our final size.
		st.abortSent, st.abortDue = true, true
		st.abortCode, st.abortFin = code, st.send.next
		s.queueCtlLocked(st)
	} else if !remote && !st.finRecv && !s.closed {
		// Our direction had ended; the peer's still runs: ask it to stop.
		st.abortSent, st.abortDue = true, true
		st.abortCode, st.abortFin = code, st.send.written
		s.queueCtlLocked(st)
	}
	if !st.abortSent {
		st.sendEnd = true
	}
	st.grantDue = false
	s.stopReadingLocked(st)
	s.cfg.Wheel.Cancel(&st.timer)
	st.wakeReader()
	st.wakeWriter()
	s.signalLocked()
	s.maybeRemoveLocked(st)
}

// stopReadingLocked stops the receive direction: the buffer is freed (now,
// or by the reader in the middle of a copy), bytes arriving later are
// credited at once.
func (s *Session) stopReadingLocked(st *Stream) {
	if st.discard {
		return
	}
	st.discard = true
	st.rx.killLocked()
	st.wakeReader()
	s.settleLocked(st)
}

// dropRetxLocked forgets the queued retransmissions of st (their lost
// packets were resolved by DropStream).
func (s *Session) dropRetxLocked(st *Stream) {
	kept := s.retx[:0]
	for _, it := range s.retx {
		if it.st != st {
			kept = append(kept, it)
		}
	}
	clear(s.retx[len(kept):])
	s.retx = kept
	if len(s.retx) == 0 {
		s.retx = nil
	}
}

// onEOFLocked runs when the reader reached the peer's final size.
func (st *Stream) onEOFLocked() {
	s := st.s
	if st.recvEnd {
		return
	}
	st.recvEnd = true
	st.rx.reclaimLocked()
	st.rx.freeLocked()
	s.maybeConnGrantLocked(s.cfg.Clock())
	s.maybeRemoveLocked(st)
}

// maybeRemoveLocked forgets a stream both of whose directions ended: its
// FIN or STREAM_ABORT acknowledged, and the peer's FIN read or its
// STREAM_ABORT received. A peer's stream that ends lets the peer open one
// more (MAX_STREAMS).
func (s *Session) maybeRemoveLocked(st *Stream) {
	if st.removed || !st.recvEnd || !(st.sendEnd || st.abortAck) || st.abortDue {
		return
	}
	st.removed = true
	delete(s.streams, st.id)
	// Frees the stream's list. Every byte was acknowledged, but a
	// spurious retransmission may still be in flight: forget it too.
	if s.tr.DropStream(tracker.StreamID(st.id)) > 0 {
		s.forgetDroppedLocked(st)
	}
	s.cfg.Wheel.Cancel(&st.timer)
	st.send.release()
	if !st.local {
		s.incomingDone++
		s.localMaxStreams = s.incomingDone + s.cfg.Local.MaxStreams
		s.maxStreamsDue = true
	}
}

// forgetDroppedLocked takes out of the sent log the records of st's
// packets that DropStream just removed from the tracker while in flight
// (those are the only records of st left: acknowledged and lost packets
// gave theirs up). Neither an ACK nor a loss declaration resolves them any
// more: a lost one would pin the log's base for good, the log growing with
// every packet sent after it, and the control frames it carried (MAX_DATA,
// MAX_STREAMS, another stream's MAX_STREAM_DATA or STREAM_ABORT) would
// never be sent again. They are made due again, as a loss would.
func (s *Session) forgetDroppedLocked(st *Stream) {
	lo, hi := s.log.bounds()
	for pn := lo; pn < hi && s.log.count > 0; pn++ {
		if r := &s.log.recs[pn&uint64(len(s.log.recs)-1)]; !r.used || r.st != st {
			continue
		}
		rec, _ := s.log.take(pn)
		s.regenerateLocked(&rec)
	}
}

// queueCtlLocked queues st for its control frames (MAX_STREAM_DATA,
// STREAM_ABORT).
func (s *Session) queueCtlLocked(st *Stream) {
	if !st.inCtlq {
		st.inCtlq = true
		s.ctlq.push(st)
	}
}

// maybeGrantLocked moves the stream's limit a window past what was read
// once less than half the window is left, doubling the window first when
// the last one was consumed within four round trips' worth of its
// fraction (quic-go's flowcontrol auto-tuning), up to MaxStreamWindow.
func (st *Stream) maybeGrantLocked(now monotime.Time) {
	s := st.s
	c := st.rx.consumed.Load()
	if st.discard || st.finRecv || st.limit-c >= st.window/2 {
		return
	}
	if rtt := s.rtt.SmoothedRTT(); s.rtt.HasSample() && rtt > 0 {
		inEpoch := c - st.epochOff
		frac := float64(inEpoch) / float64(st.window)
		if now.Sub(st.epochAt) < time.Duration(4*frac*float64(rtt)) && st.window < s.cfg.MaxStreamWindow {
			st.window = min(2*st.window, s.cfg.MaxStreamWindow)
			// The connection window keeps room for this stream and others
			// (quic-go keeps it at 1.5 times the stream's).
			if w := st.window + st.window/2; w > s.connWindow {
				s.connWindow = min(w, s.cfg.MaxConnWindow)
				s.connWindowA.Store(s.connWindow)
			}
		}
	}
	st.epochAt, st.epochOff = now, c
	st.limit = c + st.window
	st.limitPub.Store(st.limit)
	st.recvProg = now // the peer may send again: its inactivity counts from here
	st.grantDue = true
	s.queueCtlLocked(st)
}

// maybeConnGrantLocked moves the connection's limit a window past what
// was consumed once less than half the window is left.
func (s *Session) maybeConnGrantLocked(monotime.Time) {
	c := s.connConsumed.Load()
	if s.connLimit-c >= s.connWindow/2 || s.closed {
		return
	}
	s.connLimit = c + s.connWindow
	s.connLimitA.Store(s.connLimit)
	s.connGrantDue = true
}

// onTimer is the stream's timer: the window-wait timeout of its writer,
// the inactivity timeout of a stream the peer opened.
func (st *Stream) onTimer(now monotime.Time) {
	s := st.s
	s.mu.Lock()
	if st.err != nil || st.removed || s.closed {
		s.mu.Unlock()
		return
	}
	var cause error
	var code uint64
	if ww := s.cfg.WindowWaitTimeout; ww > 0 && st.hasSendableLocked() && now.Sub(st.sendProg) >= ww {
		cause, code = ErrWindowWait, StreamCodeWindowWait
	} else if it := s.cfg.StreamInactivityTimeout; it > 0 && st.inactivityAppliesLocked() && now.Sub(st.recvProg) >= it {
		cause, code = ErrStreamInactive, StreamCodeInactive
	}
	if cause != nil {
		s.abortStreamLocked(st, code, cause, false)
		s.mu.Unlock()
		s.pump(now)
		return
	}
	st.armTimerLocked(now)
	s.mu.Unlock()
}

// inactivityAppliesLocked: a stream the peer opened, still sending to us,
// with credit to send (a full window is our reader's stall, not the
// peer's).
func (st *Stream) inactivityAppliesLocked() bool {
	return !st.local && !st.finRecv && !st.discard && st.recvHi < st.limit
}

// armTimerLocked arms the stream's timer at its earliest deadline, or
// cancels it when none applies.
func (st *Stream) armTimerLocked(now monotime.Time) {
	s := st.s
	var at monotime.Time
	set := false
	if ww := s.cfg.WindowWaitTimeout; ww > 0 && st.hasSendableLocked() {
		at, set = st.sendProg.Add(ww), true
	}
	if it := s.cfg.StreamInactivityTimeout; it > 0 && !st.local && !st.finRecv && !st.discard {
		if a := st.recvProg.Add(it); !set || a < at {
			at, set = a, true
		}
	}
	if !set {
		s.cfg.Wheel.Cancel(&st.timer)
		return
	}
	s.cfg.Wheel.Reset(&st.timer, max(at, now))
}

// streamQueue is a FIFO of streams in a power-of-two ring (the send and
// control queues: round-robin without allocating per turn).
type streamQueue struct {
	buf        []*Stream
	head, size int
}

func (q *streamQueue) len() int { return q.size }

func (q *streamQueue) push(st *Stream) {
	if q.size == len(q.buf) {
		n := max(4, 2*len(q.buf))
		buf := make([]*Stream, n)
		for i := 0; i < q.size; i++ {
			buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = buf, 0
	}
	q.buf[(q.head+q.size)&(len(q.buf)-1)] = st
	q.size++
}

func (q *streamQueue) front() *Stream { return q.buf[q.head] }

func (q *streamQueue) pop() *Stream {
	st := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.size--
	if q.size == 0 {
		q.head = 0
		if len(q.buf) > 64 {
			q.buf = nil
		}
	}
	return st
}

// each calls fn for every queued stream, oldest first, until fn returns
// false.
func (q *streamQueue) each(fn func(*Stream) bool) {
	for i := 0; i < q.size; i++ {
		if !fn(q.buf[(q.head+i)&(len(q.buf)-1)]) {
			return
		}
	}
}
