package session

import (
	"context"

	"github.com/petrel-transport/petrel/core/wire"
)

// SendMessage sends p as one message: reliable, in order with the session's
// other messages, delivered whole. It copies p, so the caller may reuse it
// once SendMessage returns.
//
// With Config.SendBacklog zero it returns once every byte of the message
// has been sent at least once (not acknowledged: Stats and the peer's reply
// say that), packed and sealed on the caller's goroutine. With a backlog,
// when the bytes written and never sent, this message included, fit in it,
// SendMessage queues the message and returns at once: the session's sender
// goroutine (started if none runs) packs, seals and sends it without
// waiting, together with whatever else was written meanwhile, so a burst of
// small messages shares packets and a burst of packets shares system calls
// (flat combining: the goroutine that sends takes everything queued).
// Queued bytes the window, the peer's credit or the pacer hold back leave
// when they open (ACKs, MAX_DATA and the pacing timer send them), as bytes
// of a parked writer would. Above the backlog SendMessage behaves as
// without one, so the backlog bounds what a writer can queue unsent.
//
// While the window, the peer's credit or the pacer hold its bytes back, it
// parks until they open. If ctx ends first it returns ctx.Err(), and the
// message, already queued, may still be delivered. It returns
// ErrMessageTooLarge above Config.MaxMessageSize and the session's end
// reason once it ended.
func (s *Session) SendMessage(ctx context.Context, p []byte) error {
	if len(p) > s.cfg.MaxMessageSize {
		return ErrMessageTooLarge
	}
	s.mu.Lock()
	if s.closed {
		err := s.closeErr
		s.mu.Unlock()
		return err
	}
	var lb [8]byte
	m := s.msg
	m.send.write(wire.AppendVarint(lb[:0], uint64(len(p))))
	m.send.write(p)
	m.wroteLocked()
	end := m.send.written
	if end-m.send.next <= uint64(s.cfg.SendBacklog) {
		s.handoffs++
		start := !s.flushing
		if start {
			s.flushing = true
			s.flushers.Add(1)
		}
		s.mu.Unlock()
		if start {
			go s.flushFn() // bound once in New: a go statement with a receiver would allocate
		}
		s.stats.msgsSent.Add(1)
		return nil
	}
	s.mu.Unlock()

	for {
		s.pump(s.cfg.Clock())
		s.mu.Lock()
		if s.closed {
			err := s.closeErr
			s.mu.Unlock()
			return err
		}
		if m.send.next >= end {
			s.mu.Unlock()
			s.stats.msgsSent.Add(1)
			return nil
		}
		ch := s.progress.prepare()
		s.writers++
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			s.writers--
			s.progress.done(true)
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			s.writers--
			s.progress.done(false)
			s.mu.Unlock()
			// A wakeup meant for this writer may have been spent: send
			// what can leave so the queued data does not wait for the
			// next event.
			s.pump(s.cfg.Clock())
			return ctx.Err()
		}
	}
}

// ReceiveMessage returns the next message, in the order sent. The slice is
// the caller's. It parks until a message arrives, ctx ends (ctx.Err()) or
// the session ends; messages that arrived complete before the end are
// returned first, then the end reason.
func (s *Session) ReceiveMessage(ctx context.Context) ([]byte, error) {
	return s.ReceiveMessageInto(ctx, nil)
}

// ReceiveMessageInto is ReceiveMessage appending the message to dst, which
// it returns; with room in dst it allocates nothing.
func (s *Session) ReceiveMessageInto(ctx context.Context, dst []byte) ([]byte, error) {
	dst = dst[:0]
	for {
		s.mu.Lock()
		before := s.recv.consumed
		msg, ok, grant := s.recv.pop(dst)
		if ok {
			s.connConsumed.Add(s.recv.consumed - before)
			s.maybeConnGrantLocked(s.cfg.Clock())
		}
		if s.closed && !ok {
			err := s.closeErr
			s.mu.Unlock()
			return dst, err
		}
		grant = grant && !s.closed
		if ok {
			if grant {
				s.msg.grantDue = true
				s.queueCtlLocked(s.msg)
			}
			grant = grant || s.connGrantDue
			s.mu.Unlock()
			s.stats.msgsRecv.Add(1)
			if grant {
				s.pump(s.cfg.Clock())
			}
			return msg, nil
		}
		ch := s.readable.prepare()
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			s.readable.done(true)
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			s.readable.done(false)
			s.mu.Unlock()
			return dst, ctx.Err()
		}
	}
}

// flushLoop is the session's sender goroutine. Each round notes the
// handoffs so far and pumps; it ends after a round in which no write was
// handed off, whatever stopped the pump: every byte handed off before the
// round began was seen by the round's last packing, which sent it or found
// the window, the credit or the pacer closed (their opening sends it: the
// ACK or MAX_DATA that opens them comes later, and runs Flush; the pacing
// timer is armed). A write handed off during the round makes another round,
// even if the pump stopped on a closed window: it may have opened since (a
// round ending on a stale reason would strand the write). Writes cannot
// keep it going for ever: a blocked backlog fills and its writers send
// themselves. A writer that hands off once the goroutine decided to end
// starts the next: flushing and handoffs change together under mu.
func (s *Session) flushLoop() {
	defer s.flushers.Done()
	for {
		s.mu.Lock()
		seen := s.handoffs
		s.mu.Unlock()
		s.pump(s.cfg.Clock())
		s.mu.Lock()
		if s.handoffs == seen || s.closed {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}
