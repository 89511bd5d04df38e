package sessiontest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// Session is an in-memory core.Session. It is alive from New until Close or
// Kill; MarkDead makes it a zombie (IsAlive false, Serve still running).
//
// Concurrency: safe for concurrent use. Guard map: ID is immutable; every
// other field is atomic or guarded by once/mu.
type Session struct {
	ID uint64 // immutable: the test's name for the connection

	alive      atomic.Bool
	closes     atomic.Int32
	keepalives atomic.Int32
	serves     atomic.Int32
	done       chan struct{}
	once       sync.Once

	mu   sync.Mutex
	est  core.Estimates
	peer *Session // the other end of a pair (NewPair), or nil
}

var _ core.Session = (*Session)(nil)

// New returns a live session named id.
func New(id uint64) *Session {
	s := &Session{ID: id, done: make(chan struct{})}
	s.alive.Store(true)
	return s
}

// IsAlive reports whether the session is alive.
func (s *Session) IsAlive() bool { return s.alive.Load() }

// Close flips IsAlive to false (once) and ends Serve. Idempotent; every call
// is counted.
func (s *Session) Close() error {
	s.closes.Add(1)
	s.kill()
	return nil
}

// Kill simulates the peer or the transport ending the session: like Close
// but not counted as a Close call.
func (s *Session) Kill() { s.kill() }

func (s *Session) kill() {
	s.alive.Store(false)
	first := false
	s.once.Do(func() {
		first = true
		close(s.done)
	})
	if first {
		s.mu.Lock()
		peer := s.peer
		s.mu.Unlock()
		if peer != nil {
			peer.kill() // the connection is gone for both ends
		}
	}
}

// NewPair returns the two ends of one connection, both named id: closing or
// killing either end kills the other, as a real connection's close reaches
// the peer.
func NewPair(id uint64) (a, b *Session) {
	a, b = New(id), New(id)
	a.peer, b.peer = b, a
	return a, b
}

// MarkDead flips IsAlive to false without ending Serve: a zombie entry.
func (s *Session) MarkDead() { s.alive.Store(false) }

// Serve blocks until the session is closed or killed, or ctx is done.
func (s *Session) Serve(ctx context.Context) error {
	s.serves.Add(1)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Keepalive counts keepalives; it fails once the session is dead.
func (s *Session) Keepalive(monotime.Time) error {
	if !s.alive.Load() {
		return errors.New("sessiontest: keepalive on a dead session")
	}
	s.keepalives.Add(1)
	return nil
}

// Estimates returns what SetEstimates stored.
func (s *Session) Estimates() core.Estimates {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.est
}

// SetEstimates sets what Estimates returns.
func (s *Session) SetEstimates(e core.Estimates) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.est = e
}

// Closes returns how many times Close was called.
func (s *Session) Closes() int { return int(s.closes.Load()) }

// Keepalives returns how many keepalives were sent.
func (s *Session) Keepalives() int { return int(s.keepalives.Load()) }

// Serves returns how many times Serve was called.
func (s *Session) Serves() int { return int(s.serves.Load()) }

// Done is closed when the session is closed or killed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Call is one Dial the Dialer received. The test answers it exactly once
// with Return (or lets it observe Ctx).
type Call struct {
	Ctx   context.Context
	Peer  *core.Peer
	reply chan result
}

type result struct {
	s   core.Session
	err error
}

// Return answers the call: the Dial returns (s, err).
func (c *Call) Return(s core.Session, err error) { c.reply <- result{s, err} }

// Dialer is a scripted core.Dialer: every Dial is delivered on Calls and
// blocks until the test calls Return, whatever the context says (a dialer
// that ignores cancellation; tests that want cancellation select on
// Call.Ctx themselves).
type Dialer struct {
	Calls chan *Call
}

var _ core.Dialer = (*Dialer)(nil)

// NewDialer returns a Dialer whose Calls channel is unbuffered.
func NewDialer() *Dialer { return &Dialer{Calls: make(chan *Call)} }

// Dial delivers the call and waits for its answer.
func (d *Dialer) Dial(ctx context.Context, p *core.Peer) (core.Session, error) {
	c := &Call{Ctx: ctx, Peer: p, reply: make(chan result, 1)}
	d.Calls <- c
	r := <-c.reply
	return r.s, r.err
}
