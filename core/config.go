package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/petrel-transport/petrel/internal/wheel"
)

// Defaults for the zero fields of Config.
const (
	// DefaultDrainTimeout bounds how long Close waits for in-flight work:
	// 5 s, half the dial timeout, so a dial that was about to complete still
	// can while a stuck one does not hold Close for long.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultDialTimeout bounds one dial: RFC 6298 section 2.1's 1 s initial
	// RTO plus three doublings (RFC 6298 section 5.5: 1+2+4 = 7 s) for a lost
	// handshake, rounded up to 10 s.
	DefaultDialTimeout = 10 * time.Second
	// DefaultKeepaliveInterval: RFC 8085 section 3.5 recommends UDP
	// keep-alives no more often than every 15 s to hold NAT bindings, whose
	// timeout RFC 4787 section 4.3 (REQ-5) keeps at 2 min or more.
	DefaultKeepaliveInterval = 15 * time.Second
	// DefaultIdleTimeout: a peer silent for four keepalive intervals is
	// stale and reaped (still under RFC 4787 REQ-5's 2 min NAT timeout).
	DefaultIdleTimeout = 4 * DefaultKeepaliveInterval
	// DefaultRetention is how long a disconnected peer's estimates are kept:
	// 15 min, long enough to outlast a restart or a NAT rebinding (RFC 4787
	// REQ-5's 2 min binding timeout) several times over.
	DefaultRetention = 15 * time.Minute
	// DefaultBackoffBase and DefaultBackoffMax bound the reconnect backoff
	// (500 ms doubling to 60 s: doubling as in RFC 6298 section 5.5, capped
	// at RFC 6298 section 2.5's 60 s maximum RTO).
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffMax  = 60 * time.Second
	// DefaultBackoffJitter spreads each delay uniformly over
	// [d*(1-j), min(d*(1+j), BackoffMax)], the jitter of gRPC's connection backoff
	// (grpc/doc/connection-backoff.md, JITTER = 0.2), so peers that lost a
	// common link do not redial in lockstep.
	DefaultBackoffJitter = 0.2
)

// Config configures a Node. Every field's zero value is a documented default;
// New validates the rest.
type Config struct {
	// Local is this node's identity (its static public key). Required.
	Local PeerKey

	// Dialer opens outgoing sessions. Nil: the node only accepts (Connect
	// and persistent peers fail with ErrNoDialer). A Node opened by Listen
	// dials through its transport and ignores it.
	Dialer Dialer

	// Transport configures the transport of a Node opened by Listen or
	// ListenDriver.
	Transport TransportConfig

	// Ring configures transient and established connections and the
	// node's ring location. Zero: no ring topology (see RingConfig).
	Ring RingConfig

	// SizeHint presizes the peer table. Zero: grow on demand.
	SizeHint int

	// Clock is the time source. Nil: the system monotonic clock.
	Clock Clock
	// ManualAdvance, when true, starts no ticker goroutine: the owner drives
	// the timer wheel by calling Node.Advance (tests, or an event loop that
	// already ticks). False (zero): the Node advances its wheel every Tick
	// from its own goroutine.
	ManualAdvance bool
	// Tick is the timer wheel's resolution and the ticker period. Zero:
	// wheel.DefaultTick (1 ms).
	Tick time.Duration

	// DrainTimeout bounds how long Close waits for in-flight work. Zero:
	// DefaultDrainTimeout (5 s).
	DrainTimeout time.Duration
	// DialTimeout bounds one dial. Zero: DefaultDialTimeout (10 s).
	DialTimeout time.Duration
	// KeepaliveInterval: a connected peer not heard from for this long is
	// sent a keepalive. Zero: DefaultKeepaliveInterval (15 s).
	KeepaliveInterval time.Duration
	// IdleTimeout: a connected peer not heard from for this long is reaped
	// (its session closed). Must exceed KeepaliveInterval. Zero:
	// DefaultIdleTimeout (60 s).
	IdleTimeout time.Duration
	// Retention: how long a disconnected peer's estimates are kept (a
	// reconnect inside it resumes with them) and how long a non-persistent
	// disconnected record is kept before it is forgotten. Zero:
	// DefaultRetention (15 min).
	Retention time.Duration

	// BackoffBase is the first reconnect delay; each failed dial doubles it
	// up to BackoffMax; a successful connect resets it. Zero:
	// DefaultBackoffBase (500 ms).
	BackoffBase time.Duration
	// BackoffMax caps every reconnect delay, jitter included: no redial
	// waits longer. Zero: DefaultBackoffMax (60 s).
	BackoffMax time.Duration
	// BackoffJitter is the jitter fraction j in [0, 1): a delay d becomes
	// uniform in [d*(1-j), min(d*(1+j), BackoffMax)]. Zero:
	// DefaultBackoffJitter (0.2); set NoJitter for none.
	BackoffJitter float64
	// NoJitter disables jitter (exact doubling). Zero: jitter on.
	NoJitter bool
	// Rand is the jitter source. Nil: math/rand/v2's global source. A
	// supplied one (seeded, for tests) is used under a mutex.
	Rand *rand.Rand

	// Callbacks. Nil: not called. Each runs on the goroutine that made the
	// change (a dial, a session's processing goroutine, the wheel's driver,
	// or the caller of Accept/Disconnect/Close), never under a lock of the
	// node; a slow callback delays only that goroutine, but one on the
	// wheel's driver delays every timer, so keep them short.

	// OnConnect runs once per installed session, before its Serve starts;
	// ctx is the session's processing context.
	OnConnect func(p *Peer, s Session, ctx context.Context)
	// OnDisconnect runs exactly once per session that OnConnect announced,
	// after OnConnect returned, with the reason it ended.
	OnDisconnect func(p *Peer, s Session, reason error)
	// OnReconnectAttempt runs before each supervised redial; attempt counts
	// consecutive failures before it (0 for the first redial).
	OnReconnectAttempt func(p *Peer, attempt int)
	// OnStateChange reports each transition of a peer's published State.
	// Transitions form a chain per peer (each from is the previous to), but
	// transitions made by different goroutines may be delivered
	// concurrently; Peer.State is the current truth.
	OnStateChange func(p *Peer, from, to State)
}

// withDefaults returns c with zero fields replaced by their defaults, or an
// error for an invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Local.IsZero() {
		return c, fmt.Errorf("core: Config.Local is the zero key")
	}
	def := func(d *time.Duration, v time.Duration, name string) error {
		if *d < 0 {
			return fmt.Errorf("core: Config.%s is negative (%v)", name, *d)
		}
		if *d == 0 {
			*d = v
		}
		return nil
	}
	for _, f := range []struct {
		d    *time.Duration
		v    time.Duration
		name string
	}{
		{&c.Tick, wheel.DefaultTick, "Tick"},
		{&c.DrainTimeout, DefaultDrainTimeout, "DrainTimeout"},
		{&c.DialTimeout, DefaultDialTimeout, "DialTimeout"},
		{&c.KeepaliveInterval, DefaultKeepaliveInterval, "KeepaliveInterval"},
		{&c.IdleTimeout, DefaultIdleTimeout, "IdleTimeout"},
		{&c.Retention, DefaultRetention, "Retention"},
		{&c.BackoffBase, DefaultBackoffBase, "BackoffBase"},
		{&c.BackoffMax, DefaultBackoffMax, "BackoffMax"},
	} {
		if err := def(f.d, f.v, f.name); err != nil {
			return c, err
		}
	}
	if c.IdleTimeout <= c.KeepaliveInterval {
		return c, fmt.Errorf("core: Config.IdleTimeout (%v) must exceed KeepaliveInterval (%v)", c.IdleTimeout, c.KeepaliveInterval)
	}
	if c.BackoffMax < c.BackoffBase {
		return c, fmt.Errorf("core: Config.BackoffMax (%v) is below BackoffBase (%v)", c.BackoffMax, c.BackoffBase)
	}
	if c.BackoffJitter < 0 || c.BackoffJitter >= 1 {
		return c, fmt.Errorf("core: Config.BackoffJitter %v not in [0, 1)", c.BackoffJitter)
	}
	if c.BackoffJitter == 0 {
		c.BackoffJitter = DefaultBackoffJitter
	}
	if c.NoJitter {
		c.BackoffJitter = 0
	}
	if c.SizeHint < 0 {
		return c, fmt.Errorf("core: Config.SizeHint is negative (%d)", c.SizeHint)
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c, nil
}
