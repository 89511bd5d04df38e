package session

import (
	"context"

	"github.com/petrel-transport/petrel/core/wire"
)

// SendMessage sends p as one message: reliable, in order with the session's
// other messages, delivered whole. It copies p, so the caller may reuse it
// once SendMessage returns. It returns once every byte of the message has
// been sent at least once (not acknowledged: Stats and the peer's reply say
// that); while the window, the peer's credit or the pacer hold it back, it
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
	s.send.write(wire.AppendVarint(lb[:0], uint64(len(p))))
	s.send.write(p)
	end := s.send.written
	s.mu.Unlock()

	for {
		s.pump(s.cfg.Clock())
		s.mu.Lock()
		if s.closed {
			err := s.closeErr
			s.mu.Unlock()
			return err
		}
		if s.send.next >= end {
			s.mu.Unlock()
			s.stats.msgsSent.Add(1)
			return nil
		}
		ch := s.waitLocked()
		s.writers++
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
			s.writers--
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			s.writers--
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
		msg, ok, grant := s.recv.pop(dst)
		if s.closed && !ok {
			err := s.closeErr
			s.mu.Unlock()
			return dst, err
		}
		grant = grant && !s.closed
		if ok {
			if grant {
				s.maxDataDue = true
			}
			s.mu.Unlock()
			s.stats.msgsRecv.Add(1)
			if grant {
				s.pump(s.cfg.Clock())
			}
			return msg, nil
		}
		if s.readable == nil {
			s.readable = make(chan struct{})
		}
		ch := s.readable
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}
