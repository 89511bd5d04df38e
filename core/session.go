package core

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// Session is one live connection to a peer, as the transport engine provides
// it. The Table holds at most one per peer; sessions are transient, the Peer
// record outlives them.
//
// Implementations must be comparable pointer types (RemoveIfMatches compares
// sessions with ==) and safe for concurrent use.
type Session interface {
	// IsAlive reports whether the session can still carry traffic. It is an
	// atomic flag that flips from true to false exactly once, in the
	// session's close path (local Close, peer close, fatal error), and never
	// back. A dead session never blocks a new connection: Table.Swap
	// replaces it.
	IsAlive() bool

	// Close ends the session and releases its resources. It is idempotent
	// and safe to call concurrently with every other method; after it
	// returns IsAlive reports false. The registry never calls Close while
	// holding a lock: the caller that removed the session closes it.
	Close() error

	// Serve runs the session's processing until the session dies or ctx is
	// cancelled, whichever is first, and then returns. ctx is the session's
	// own processing context, created on connect and cancelled on
	// disconnect; a reconnect gets a fresh one. The Node calls Serve once per
	// session, on a goroutine it tracks.
	Serve(ctx context.Context) error

	// Keepalive sends one keepalive (a PING) to keep NAT bindings and the
	// peer's idle timer fresh. It must not block on the network.
	Keepalive(now monotime.Time) error

	// Estimates reports the session's current path estimates; the Node keeps
	// them in the Peer at disconnect (after Close, so it must still answer
	// then) so a reconnect inside the retention window resumes with them.
	Estimates() Estimates
}

// Estimates is the path state a Peer retains across sessions.
type Estimates struct {
	RTT  time.Duration // smoothed round-trip time; 0 = unknown
	Cwnd uint64        // congestion window in bytes; 0 = unknown
}

// Dialer opens outgoing sessions. The Node calls Dial on a tracked goroutine
// with a context that is cancelled by Node.Close and by the dial timeout.
// Dial must return promptly once ctx is done. A session returned after ctx is
// done is closed by the Node and never installed.
type Dialer interface {
	Dial(ctx context.Context, p *Peer) (Session, error)
}

// DialerFunc adapts a function to the Dialer interface.
type DialerFunc func(ctx context.Context, p *Peer) (Session, error)

// Dial calls f(ctx, p).
func (f DialerFunc) Dial(ctx context.Context, p *Peer) (Session, error) { return f(ctx, p) }

// sessionRef is the value of a Peer's session slot: one allocation per
// session, immutable once published, so the slot is a single atomic pointer
// and a compare-and-swap on it is the registry's linearization point.
//
// Guard map: s, incoming, ctx and cancel are immutable. ann is atomic; why
// is written once, by the actor that removed the session, before its CAS on
// ann, and read only by the installer after that CAS (see announce.go).
type sessionRef struct {
	s        Session            // immutable
	incoming bool               // immutable: true if the remote peer initiated it
	ctx      context.Context    // immutable: processing context (nil when used without a Node)
	cancel   context.CancelFunc // immutable: ends ctx (nil when ctx is nil)

	ann atomic.Uint32 // annPending -> annDone (installer) or annEnded (remover)
	why error         // disconnect reason left by a remover that found annPending
}

// end cancels the session's processing context, if it has one.
func (r *sessionRef) end() {
	if r.cancel != nil {
		r.cancel()
	}
}
