package session

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// Stream is a reliable, ordered, flow-controlled byte stream in both
// directions on a session, opened by either side (OpenStream,
// AcceptStream). It is an io.ReadWriteCloser with a half close
// (CloseWrite), an abort (Abort) and deadlines, and implements
// io.ReaderFrom and io.WriterTo, so io.Copy moves a file through it without
// a buffer of its own.
//
// Ends: CloseWrite ends the sending direction after every byte written
// (the peer reads io.EOF). Close does the same and stops reading (data
// still arriving is discarded and credited, so the peer is never stalled
// by it). Abort ends both directions at once, dropping what was not
// delivered: the peer's Read and Write return a *StreamAbortError with the
// code. The stream also aborts itself (then both sides see a
// *StreamAbortError matching the cause with errors.Is) when a writer waits
// longer than the window-wait timeout for window or credit
// (ErrWindowWait), when a stream the peer opened brings nothing for the
// inactivity timeout (ErrStreamInactive), when ReadFrom's reader fails, and
// when the session ends.
//
// Concurrency: every method is safe for concurrent use; concurrent Reads
// (and concurrent Writes) are serialized, a Read and a Write run in
// parallel.
//
// Guard map: s, id and local are immutable after creation; rx has its own
// guard map; the waiting flags and finalA are atomic; readMu serializes
// readers, writeMu writers (lock order: readMu or writeMu -> s.mu); rd and
// wr are the deadlines; s.mu guards every other field.
type Stream struct {
	s     *Session
	id    uint64
	local bool // opened by this side

	readMu, writeMu sync.Mutex
	rd, wr          deadline

	rx        rxBuf
	rdWaiting atomic.Bool
	wrWaiting atomic.Bool
	rdCh      chan struct{} // one token: the reader may have something to do
	wrCh      chan struct{} // one token: the writer may have room
	finalA    atomic.Uint64 // the peer's final size + 1 once known (0: unknown)
	limitPub  atomic.Uint64 // limit, published for the reader

	// Send direction.
	send       sendStream
	credit     uint64 // the peer's MAX_STREAM_DATA
	finWritten bool   // CloseWrite: the stream ends at send.written
	finSent    bool   // a FIN left (at least once)
	finAcked   bool
	queued     bool // in s.sendq
	sendEnd    bool // nothing more will leave: the FIN acknowledged, or our STREAM_ABORT acknowledged
	sendProg   monotime.Time

	// Receive direction.
	recvHi    uint64 // highest offset received + 1
	acctHi    uint64 // bytes of this stream credited back to the connection window
	limit     uint64 // our MAX_STREAM_DATA
	window    uint64 // the receive window (auto-tuned)
	epochAt   monotime.Time
	epochOff  uint64
	grantDue  bool
	finRecv   bool // the peer's final size is known (FIN or STREAM_ABORT)
	final     uint64
	discard   bool // reading stopped (Close or abort): arriving data is credited, not kept
	recvEnd   bool // the peer sends nothing more and everything was read or discarded
	recvProg  monotime.Time
	accepted  bool // handed to AcceptStream (peer-opened streams)
	removed   bool
	inCtlq    bool
	abortSent bool // our STREAM_ABORT was queued (it stays due until acknowledged)
	abortDue  bool
	abortAck  bool
	abortCode uint64
	abortFin  uint64 // our final size in the STREAM_ABORT
	err       error  // why the stream ended early (a *StreamAbortError), nil otherwise

	timer wheel.Timer // window-wait and inactivity
}

// StreamAbortError ends a stream that was aborted: by the peer (Remote),
// by this side's Abort, or by one of the causes of the Stream's doc
// (Cause, matched by errors.Is).
type StreamAbortError struct {
	Code   uint64
	Remote bool
	Cause  error // for a local abort: ErrWindowWait, ErrStreamInactive, the upstream reader's error, the session's end; nil for Abort
}

func (e *StreamAbortError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by the peer"
	}
	msg := "session: stream aborted " + who + " (code " + strconv.FormatUint(e.Code, 10) + ")"
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *StreamAbortError) Unwrap() error { return e.Cause }

// Stream abort codes the transport itself uses (an application's Abort
// codes are its own; these are announced so a peer can tell them apart).
const (
	StreamCodeWindowWait  = 0x101 // ErrWindowWait
	StreamCodeInactive    = 0x102 // ErrStreamInactive
	StreamCodeUpstream    = 0x103 // ReadFrom's reader failed
	StreamCodeSessionDone = 0x104 // the session ended
)

var (
	// ErrWindowWait aborts a stream whose data waited longer than the
	// window-wait timeout for congestion window or flow-control credit.
	ErrWindowWait = errors.New("session: stream aborted: window-wait timeout")
	// ErrStreamInactive aborts a stream opened by the peer that brought
	// no data for the inactivity timeout while it had credit to send.
	ErrStreamInactive = errors.New("session: stream aborted: inactive")
	// ErrWriteClosed is returned by Write after CloseWrite or Close.
	ErrWriteClosed = errors.New("session: write on a stream closed for writing")
	// ErrReadClosed is returned by Read after Close.
	ErrReadClosed = errors.New("session: read on a closed stream")
)

// ID returns the stream's id (unique within the session).
func (st *Stream) ID() uint64 { return st.id }

// Read reads the next bytes, in order, into p. It parks until some arrive,
// the peer ends the stream (io.EOF once every byte was read), the stream
// aborts (*StreamAbortError), the read deadline passes
// (os.ErrDeadlineExceeded) or the session ends. It copies straight from the
// reassembly buffer, without taking the session's lock.
func (st *Stream) Read(p []byte) (int, error) {
	st.readMu.Lock()
	defer st.readMu.Unlock()
	return st.readLocked(p)
}

func (st *Stream) readLocked(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if st.rx.enter() {
			n := st.rx.read(p)
			if st.rx.exit() {
				// Reading stopped during the copy: its settling was
				// left to this exit (settleLocked skips a buffer in a
				// copy).
				s := st.s
				s.mu.Lock()
				st.rx.freeLocked()
				s.settleLocked(st)
				due := s.maxStreamsDue || s.connGrantDue
				s.mu.Unlock()
				if due {
					s.pump(s.cfg.Clock())
				}
			}
			if n > 0 {
				st.onRead(uint64(n))
				return n, nil
			}
		}
		if err := st.readEnd(); err != nil {
			return 0, err
		}
		// Park: announce the wait, then check again (the receive path
		// stores the frontier before it looks at rdWaiting).
		st.rdWaiting.Store(true)
		if st.readable() {
			st.rdWaiting.Store(false)
			continue
		}
		select {
		case <-st.rdCh:
		case <-st.rd.wait():
			st.rdWaiting.Store(false)
			return 0, os.ErrDeadlineExceeded
		}
		st.rdWaiting.Store(false)
	}
}

// readable reports whether Read has something to do: bytes, the end, an
// abort.
func (st *Stream) readable() bool {
	c := st.rx.consumed.Load()
	if st.rx.frontier.Load() > c || st.rx.dead() {
		return true
	}
	f := st.finalA.Load()
	return f != 0 && f-1 == c
}

// readEnd returns the error a Read with nothing to read returns: io.EOF at
// the peer's end, the abort, nil to wait.
func (st *Stream) readEnd() error {
	if f := st.finalA.Load(); f != 0 && f-1 == st.rx.consumed.Load() && !st.rx.dead() {
		s := st.s
		s.mu.Lock()
		st.onEOFLocked()
		due := s.maxStreamsDue || s.connGrantDue // the stream may have ended: MAX_STREAMS
		s.mu.Unlock()
		if due {
			s.pump(s.cfg.Clock())
		}
		return io.EOF
	}
	if st.rx.dead() {
		st.s.mu.Lock()
		err := st.err
		if err == nil {
			err = ErrReadClosed
		}
		st.s.mu.Unlock()
		return err
	}
	return nil
}

// onRead accounts n bytes read: the connection's consumption, and a window
// update when less than half the stream's window is left.
func (st *Stream) onRead(n uint64) {
	s := st.s
	c := st.rx.consumed.Load()
	connDue := s.connConsumed.Add(n)+s.connWindowA.Load()/2 > s.connLimitA.Load()
	if !connDue && c+st.window/2 <= st.limitA() {
		return
	}
	s.mu.Lock()
	if !st.discard {
		st.rx.reclaimLocked()
		st.maybeGrantLocked(s.cfg.Clock())
	}
	s.maybeConnGrantLocked(s.cfg.Clock())
	due := st.grantDue || s.connGrantDue
	s.mu.Unlock()
	if due {
		s.pump(s.cfg.Clock())
	}
}

// limitA is the stream's granted limit as a reader may read it without mu.
func (st *Stream) limitA() uint64 { return st.limitPub.Load() }

// Write writes p to the stream. It returns once every byte of p is in the
// stream's send buffer (bounded by Config.StreamSendBuffer), packing and
// sealing on the caller's goroutine what the window lets leave; while the
// buffer is full it parks until bytes leave. It returns early with the
// abort (*StreamAbortError; at the session's end one with code
// StreamCodeSessionDone whose Cause is the session's error), ErrWriteClosed
// after CloseWrite, or os.ErrDeadlineExceeded once the write deadline
// passes.
func (st *Stream) Write(p []byte) (int, error) {
	return st.write(context.Background(), p)
}

// write is Write, also returning ctx.Err() once ctx ends.
func (st *Stream) write(ctx context.Context, p []byte) (int, error) {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	n := 0
	for {
		s := st.s
		s.mu.Lock()
		if err := st.writeErrLocked(); err != nil {
			s.mu.Unlock()
			return n, err
		}
		if room := st.roomLocked(); room > 0 && len(p) > 0 {
			k := min(room, len(p))
			st.send.write(p[:k])
			s.unsent += uint64(k)
			st.wroteLocked()
			n += k
			p = p[k:]
		}
		s.mu.Unlock()
		s.pump(s.cfg.Clock())
		if len(p) == 0 {
			return n, nil
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err := st.waitRoom(); err != nil {
			return n, err
		}
	}
}

// roomLocked is how many more bytes the send buffer takes: the stream's
// bytes written and never sent stay within StreamSendBuffer, and all byte
// streams' together within four of them (so 256 busy streams hold 4 MiB
// unsent, not 256: measured, the larger working set made every copy miss
// the cache and cut BenchmarkStreams/256 to a third), except that every
// stream may hold minSendRoom, so none starves (a stream with bytes unsent
// is in the send queue and is woken when they leave).
func (st *Stream) roomLocked() int {
	s := st.s
	unsent := st.send.written - st.send.next
	limit := uint64(s.cfg.StreamSendBuffer)
	if total, budget := s.unsent, 4*limit; total+minSendRoom > budget {
		limit = min(limit, max(minSendRoom, unsent+budget-min(budget, total)))
	}
	if unsent >= limit {
		return 0
	}
	return int(limit - unsent)
}

// minSendRoom is what a stream may always hold unsent: a dozen packets.
const minSendRoom = 16 << 10

// writeErrLocked is why a Write cannot go on (nil: it can).
func (st *Stream) writeErrLocked() error {
	switch {
	case st.err != nil:
		return st.err
	case st.s.closed:
		return st.s.sessionDoneLocked()
	case st.finWritten:
		return ErrWriteClosed
	}
	return nil
}

// wroteLocked queues the stream for sending after bytes (or the FIN) were
// added, and starts the window-wait clock if nothing was waiting before.
func (st *Stream) wroteLocked() {
	s := st.s
	if !st.queued {
		st.queued = true
		s.sendq.push(st)
	}
	if st.id != messageStream && !st.timer.Pending() {
		now := s.cfg.Clock()
		st.sendProg = now
		st.armTimerLocked(now)
	}
}

// waitRoom parks the writer until the stream's send buffer may have room.
// A writer that leaves on its deadline sends what can leave first: a
// wakeup meant for it may have been spent.
func (st *Stream) waitRoom() error {
	s := st.s
	st.wrWaiting.Store(true)
	defer st.wrWaiting.Store(false)
	s.mu.Lock()
	ok := st.roomLocked() > 0 || st.writeErrLocked() != nil
	if !ok {
		s.parkedWriters.Add(1) // under mu: signalLocked sees it
	}
	s.mu.Unlock()
	if ok {
		return nil
	}
	defer s.parkedWriters.Add(-1)
	select {
	case <-st.wrCh:
		return nil
	case <-st.wr.wait():
		st.wrWaiting.Store(false)
		s.pump(s.cfg.Clock())
		return os.ErrDeadlineExceeded
	}
}

// wakeWriter wakes the stream's parked writer, if any.
func (st *Stream) wakeWriter() {
	if st.wrWaiting.Load() {
		select {
		case st.wrCh <- struct{}{}:
		default:
		}
	}
}

// wakeReader wakes the stream's parked reader, if any.
func (st *Stream) wakeReader() {
	if st.rdWaiting.Load() {
		select {
		case st.rdCh <- struct{}{}:
		default:
		}
	}
}

// ReadFrom writes everything r yields to the stream, reading from r
// straight into the stream's send buffer (no buffer of its own), until
// io.EOF (nil error; the stream stays open: CloseWrite ends it). An error
// of r aborts the stream (code StreamCodeUpstream): what it wrote is not
// delivered, so the peer never mistakes a partial transfer for a whole
// one.
func (st *Stream) ReadFrom(r io.Reader) (int64, error) {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	s := st.s
	var total int64
	for {
		s.mu.Lock()
		if err := st.writeErrLocked(); err != nil {
			s.mu.Unlock()
			return total, err
		}
		room := st.roomLocked()
		var buf []byte
		if room > 0 {
			buf = st.send.tail(room)
			st.send.filling = true
		}
		s.mu.Unlock()
		if room == 0 {
			// Send what can leave (a wakeup means the window may have
			// opened, and this writer was chosen to pack for every
			// stream), then wait for room.
			s.pump(s.cfg.Clock())
			if err := st.waitRoom(); err != nil {
				return total, err
			}
			// Woken: the window may have opened, and this writer is the
			// one chosen to pack for every stream (signalLocked). Pack
			// now: the source may block on the next Read.
			s.pump(s.cfg.Clock())
			continue
		}
		n, rerr := r.Read(buf)
		s.mu.Lock()
		st.send.endFill()
		if n > 0 && st.writeErrLocked() == nil {
			st.send.written += uint64(n)
			s.unsent += uint64(n)
			st.wroteLocked()
			total += int64(n)
		}
		s.mu.Unlock()
		if n > 0 {
			s.pump(s.cfg.Clock())
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			st.abort(StreamCodeUpstream, rerr)
			return total, rerr
		}
	}
}

// WriteTo writes the stream's bytes to w until the peer ends it (nil
// error) or it fails. It copies from the reassembly buffer into a buffer
// of 64 KiB it reuses, so io.Copy allocates nothing per call beyond it.
func (st *Stream) WriteTo(w io.Writer) (int64, error) {
	st.readMu.Lock()
	defer st.readMu.Unlock()
	bp := copyBufs.Get().(*[copyBuf]byte)
	defer copyBufs.Put(bp)
	var total int64
	for {
		n, err := st.readLocked(bp[:])
		if n > 0 {
			k, werr := w.Write(bp[:n])
			total += int64(k)
			if werr == nil && k < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

const copyBuf = 64 << 10

var copyBufs = sync.Pool{New: func() any { return new([copyBuf]byte) }}

// CloseWrite ends the sending direction: a FIN follows every byte written,
// and the peer reads io.EOF after them. It returns at once, without waiting
// for the peer: nil says the FIN is queued, not that the peer has the bytes
// (no call of a Stream reports delivery; an application that must know
// waits for the peer's answer, as petrel send waits for its receipt).
// Write returns ErrWriteClosed afterwards. Once the sending direction
// ended early, before the peer acknowledged every byte and the FIN (an
// abort, the session's end), it returns that end (a *StreamAbortError, or
// the session's error) instead, now and on every later call: it never
// returns nil for a direction that will not be delivered whole.
func (st *Stream) CloseWrite() error {
	s := st.s
	s.mu.Lock()
	if st.err != nil || s.closed || st.finWritten {
		err := st.sendFailedLocked()
		s.mu.Unlock()
		return err
	}
	st.finWritten = true
	st.wroteLocked()
	s.mu.Unlock()
	st.wakeWriterForce() // a parked Write returns ErrWriteClosed
	s.pump(s.cfg.Clock())
	return nil
}

// Close ends the stream gracefully: CloseWrite, and reading stops (bytes
// not read are dropped, bytes still arriving are discarded and credited to
// the peer). Parked readers return ErrReadClosed. The written bytes are
// still delivered unless the stream ends early later (the peer's abort, a
// timeout, the session's end), which only the peer's side then reports:
// like CloseWrite, a nil return says the FIN is queued, not delivered. It
// returns CloseWrite's error: the stream's early end if its sending
// direction had already ended before every byte was acknowledged.
// Idempotent.
func (st *Stream) Close() error {
	err := st.CloseWrite()
	s := st.s
	s.mu.Lock()
	s.stopReadingLocked(st)
	due := s.maxStreamsDue || s.connGrantDue // the stream may have ended, bytes were credited
	s.mu.Unlock()
	if due {
		s.pump(s.cfg.Clock())
	}
	st.rd.stop()
	st.wr.stop()
	return err
}

// sendFailedLocked is why the sending direction ended without being
// delivered whole: nil while it runs or once the peer acknowledged every
// byte and the FIN (ackedRangeLocked sets finAcked only before an abort),
// else the stream's abort or the session's end. s.mu is held.
func (st *Stream) sendFailedLocked() error {
	switch {
	case st.finAcked && st.send.base == st.send.written:
		return nil
	case st.err != nil:
		return st.err
	case st.s.closed:
		return st.s.sessionDoneLocked()
	}
	return nil
}

// sessionDoneLocked is the error of a call on a stream of a session that
// has ended but whose streams end's second step has not aborted yet: the
// *StreamAbortError that step gives every stream (so a writer woken in
// between sees the same error as one woken after it). s.mu is held.
func (s *Session) sessionDoneLocked() error {
	return &StreamAbortError{Code: StreamCodeSessionDone, Cause: s.closeErr}
}

// Abort ends both directions at once: nothing more is sent (the stream's
// packets leave the tracker and free their window at once), what the peer
// has not read is dropped, and the peer learns code in a STREAM_ABORT.
// Parked calls on either side return a *StreamAbortError. Idempotent; a
// stream that already ended is left alone.
func (st *Stream) Abort(code uint64) error {
	st.abort(code, nil)
	return nil
}

func (st *Stream) abort(code uint64, cause error) {
	s := st.s
	s.mu.Lock()
	s.abortStreamLocked(st, code, cause, false)
	s.mu.Unlock()
	s.pump(s.cfg.Clock())
}

// SetDeadline sets the read and write deadlines.
func (st *Stream) SetDeadline(t time.Time) error {
	st.rd.set(t)
	st.wr.set(t)
	return nil
}

// SetReadDeadline sets the time after which a parked or future Read
// returns os.ErrDeadlineExceeded; the zero time clears it.
func (st *Stream) SetReadDeadline(t time.Time) error {
	st.rd.set(t)
	return nil
}

// SetWriteDeadline sets the time after which a parked or future Write
// returns os.ErrDeadlineExceeded (the bytes it buffered stay buffered); the
// zero time clears it.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	st.wr.set(t)
	return nil
}

// WriteContext is Write, also returning ctx.Err() once ctx ends (the
// bytes it buffered stay buffered).
func (st *Stream) WriteContext(ctx context.Context, p []byte) (int, error) {
	if ctx.Done() == nil {
		return st.write(ctx, p)
	}
	stop := context.AfterFunc(ctx, st.wakeWriterForce)
	defer stop()
	return st.write(ctx, p)
}

// wakeWriterForce leaves a token for the writer whether or not it is
// parked yet (a context ended: the writer must see it).
func (st *Stream) wakeWriterForce() {
	select {
	case st.wrCh <- struct{}{}:
	default:
	}
}
