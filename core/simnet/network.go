package simnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

var (
	// ErrClosed is returned by the calls made on a closed Endpoint or
	// Network. It matches net.ErrClosed, as a closed socket's error does.
	ErrClosed = fmt.Errorf("simnet: %w", net.ErrClosed)
	// ErrAddrInUse is returned (wrapped) by Listen for an address that
	// already has an endpoint.
	ErrAddrInUse = errors.New("simnet: address already in use")
)

// Config configures a Network. The zero Config is a perfect network on
// BubbleClock with seed 0.
type Config struct {
	// Seed seeds every link's randomness: each directed link's generator is
	// seeded from Seed, its netem.Config.Seed and the two addresses, so
	// equal Seeds give equal runs. Zero is a seed like any other.
	Seed uint64

	// Default is the impairment of every directed link not set with
	// SetLink. The zero value is a perfect link: every datagram arrives
	// once, intact, at the instant it was sent.
	Default netem.Config

	// Clock is the time netem's decisions are made at and deliveries are
	// due at. Deliveries wait on time.Timer, so Clock must advance with the
	// time package's clock, as BubbleClock does inside a synctest bubble and
	// monotime.Now does outside one. Nil means BubbleClock.
	Clock func() monotime.Time
}

// Stats counts what a Network did with the datagrams written to it. Every
// datagram written ends in exactly one way, delivered (once, or twice if
// duplicated) or dropped for one reason, so at quiescence
// Sent + Duplicated = Delivered + the Dropped counts.
type Stats struct {
	Sent      uint64 // datagrams given to WriteBatch
	Delivered uint64 // copies handed to a Handler

	DroppedLoss       uint64 // lost on the path (netem Loss and Burst)
	DroppedQueue      uint64 // tail-dropped at a full bottleneck queue
	DroppedPartition  uint64 // sent or due across a partition, or to or from an isolated address
	DroppedNoEndpoint uint64 // sent to an address with no endpoint
	DroppedClosed     uint64 // still in flight when the receiver closed

	Duplicated uint64 // datagrams that arrive twice
	Corrupted  uint64 // copies with one bit flipped
	Reordered  uint64 // copies that skipped the delay (netem Reorder)
}

// counters is Stats as atomics: senders count under Network.mu, delivery
// goroutines without it.
type counters struct {
	sent, delivered                                    atomic.Uint64
	loss, queue, partition, noEndpoint, closedReceiver atomic.Uint64
	duplicated, corrupted, reordered                   atomic.Uint64
}

// linkKey names a directed link.
type linkKey struct{ from, to netip.AddrPort }

// Network is a simulated UDP network. Create it with New; it is safe for
// concurrent use.
type Network struct {
	// Immutable after New.
	seed  uint64
	def   netem.Config
	clock func() monotime.Time

	stats counters
	// nparts mirrors len(parts)+len(isolated) so a delivery goroutine
	// checks partitions without taking mu while none exists.
	nparts atomic.Int64

	// mu guards the fields below and serializes every netem decision, so
	// each link sees its datagrams in one order. Lock order: mu, then an
	// Endpoint's mu.
	mu        sync.Mutex
	closed    bool
	endpoints map[netip.AddrPort]*Endpoint
	links     map[linkKey]*netem.Link
	parts     map[linkKey]struct{} // partitioned pairs, from < to
	isolated  map[netip.AddrPort]struct{}
	fates     []netem.Fate // scratch for Decide
	pend      []pending    // scratch for WriteBatch
}

// New returns a Network impairing as cfg says, or an error wrapping
// netem.ErrConfig if cfg.Default is invalid.
func New(cfg Config) (*Network, error) {
	if _, err := netem.New(cfg.Default); err != nil {
		return nil, fmt.Errorf("simnet: Default: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = BubbleClock
	}
	return &Network{
		seed:      cfg.Seed,
		def:       cfg.Default,
		clock:     cfg.Clock,
		endpoints: make(map[netip.AddrPort]*Endpoint),
		links:     make(map[linkKey]*netem.Link),
		parts:     make(map[linkKey]struct{}),
		isolated:  make(map[netip.AddrPort]struct{}),
		fates:     make([]netem.Fate, 0, 2),
	}, nil
}

// bubbleEpoch is before any time a synctest bubble starts at (2000-01-01
// UTC), so BubbleClock is positive there. It carries no monotonic reading,
// so time.Since subtracts wall times, which inside a bubble are virtual.
var bubbleEpoch = time.Date(1999, time.December, 31, 0, 0, 0, 0, time.UTC)

// BubbleClock returns time.Now as a monotime.Time: nanoseconds since
// 1999-12-31 UTC. Inside a synctest bubble it is the virtual time, positive
// and monotonic, and it starts at 24h in every bubble, so runs repeat
// exactly. Outside a bubble it follows the wall clock, which can step: use
// monotime.Now there.
func BubbleClock() monotime.Time { return monotime.Time(time.Since(bubbleEpoch)) }

// Listen opens an endpoint at addr whose datagrams are handed to h. It
// fails if addr is invalid or has a port of 0, if an endpoint already
// listens there (ErrAddrInUse), or if the Network is closed (ErrClosed).
// An IPv4-mapped IPv6 addr is taken as the IPv4 address. Routing is by
// exact address: there is no wildcard.
func (n *Network) Listen(addr netip.AddrPort, h Handler) (*Endpoint, error) {
	addr = unmap(addr)
	if !addr.IsValid() || addr.Port() == 0 {
		return nil, fmt.Errorf("simnet: listen %v: invalid address", addr)
	}
	if h == nil {
		return nil, errors.New("simnet: listen: nil Handler")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	if _, used := n.endpoints[addr]; used {
		return nil, fmt.Errorf("simnet: listen %v: %w", addr, ErrAddrInUse)
	}
	e := newEndpoint(n, addr, h)
	n.endpoints[addr] = e
	go e.run()
	return e, nil
}

// SetLink sets the impairment of the directed link from -> to, replacing
// Default or an earlier SetLink. The link starts afresh: its generator is
// reseeded and its bottleneck is empty; datagrams already in flight keep
// their fates. It fails with an error wrapping netem.ErrConfig if c is
// invalid.
func (n *Network) SetLink(from, to netip.AddrPort, c netem.Config) error {
	from, to = unmap(from), unmap(to)
	l, err := n.newLink(from, to, c)
	if err != nil {
		return fmt.Errorf("simnet: link %v -> %v: %w", from, to, err)
	}
	n.mu.Lock()
	n.links[linkKey{from, to}] = l
	n.mu.Unlock()
	return nil
}

// newLink builds the netem Link of from -> to with its derived seed.
func (n *Network) newLink(from, to netip.AddrPort, c netem.Config) (*netem.Link, error) {
	c.Seed = linkSeed(n.seed, c.Seed, from, to)
	return netem.New(c)
}

// Partition drops every datagram between a and b, both ways, until Heal:
// those sent from now on and those already in flight when they fall due.
func (n *Network) Partition(a, b netip.AddrPort) {
	n.mu.Lock()
	n.parts[pairKey(a, b)] = struct{}{}
	n.storeNpartsLocked()
	n.mu.Unlock()
}

// Heal ends a Partition of a and b; it does nothing if there is none.
func (n *Network) Heal(a, b netip.AddrPort) {
	n.mu.Lock()
	delete(n.parts, pairKey(a, b))
	n.storeNpartsLocked()
	n.mu.Unlock()
}

// Isolate drops every datagram to or from a, the way a host that crashed
// or lost its link goes silent: those sent from now on and those already
// in flight when they fall due, counted as DroppedPartition, until Rejoin.
// It names an address, not an endpoint: an endpoint that rebinds away from
// a leaves the isolation behind, and one that closes and listens again at
// a while it lasts stays cut off.
func (n *Network) Isolate(a netip.AddrPort) {
	n.mu.Lock()
	n.isolated[unmap(a)] = struct{}{}
	n.storeNpartsLocked()
	n.mu.Unlock()
}

// Rejoin ends an Isolate of a; it does nothing if there is none.
func (n *Network) Rejoin(a netip.AddrPort) {
	n.mu.Lock()
	delete(n.isolated, unmap(a))
	n.storeNpartsLocked()
	n.mu.Unlock()
}

func (n *Network) storeNpartsLocked() {
	n.nparts.Store(int64(len(n.parts) + len(n.isolated)))
}

// partitionedLocked reports whether a and b are partitioned, or either is
// isolated; mu is held.
func (n *Network) partitionedLocked(a, b netip.AddrPort) bool {
	if len(n.parts) == 0 && len(n.isolated) == 0 {
		return false
	}
	if len(n.isolated) > 0 {
		if _, ok := n.isolated[unmap(a)]; ok {
			return true
		}
		if _, ok := n.isolated[unmap(b)]; ok {
			return true
		}
	}
	_, ok := n.parts[pairKey(a, b)]
	return ok
}

// Stats returns the counts so far.
func (n *Network) Stats() Stats {
	c := &n.stats
	return Stats{
		Sent:              c.sent.Load(),
		Delivered:         c.delivered.Load(),
		DroppedLoss:       c.loss.Load(),
		DroppedQueue:      c.queue.Load(),
		DroppedPartition:  c.partition.Load(),
		DroppedNoEndpoint: c.noEndpoint.Load(),
		DroppedClosed:     c.closedReceiver.Load(),
		Duplicated:        c.duplicated.Load(),
		Corrupted:         c.corrupted.Load(),
		Reordered:         c.reordered.Load(),
	}
}

// Close closes every endpoint and refuses new ones. Once it returns, no
// goroutine of the Network remains, except, when Close is called from
// inside a Handler, the delivery goroutine of that Handler's endpoint, which
// exits as soon as the Handler returns (see Endpoint.Close). It is
// idempotent and always returns nil.
func (n *Network) Close() error {
	n.mu.Lock()
	n.closed = true
	eps := make([]*Endpoint, 0, len(n.endpoints))
	for _, e := range n.endpoints {
		eps = append(eps, e)
	}
	n.mu.Unlock()
	for _, e := range eps {
		e.Close()
	}
	return nil
}

// pending is one copy decided by WriteBatch, not yet queued at its
// receiver.
type pending struct {
	to  *Endpoint
	msg int // index in the batch
	f   netem.Fate
}

// routeLocked decides the fate of one datagram of size bytes from src to
// dst and appends a pending entry per copy that will arrive; mu is held.
func (n *Network) routeLocked(pend []pending, now monotime.Time, src, dst netip.AddrPort, msg, size int) []pending {
	c := &n.stats
	c.sent.Add(1)
	to := n.endpoints[dst]
	if to == nil {
		// A real network would carry it and get ICMP port unreachable back;
		// UDP senders never see that synchronously, so drop it silently.
		c.noEndpoint.Add(1)
		return pend
	}
	if n.partitionedLocked(src, dst) {
		c.partition.Add(1)
		return pend
	}
	key := linkKey{src, dst}
	l := n.links[key]
	if l == nil {
		var err error
		if l, err = n.newLink(src, dst, n.def); err != nil {
			panic("simnet: Default validated in New: " + err.Error())
		}
		n.links[key] = l
	}
	before := l.Stats()
	n.fates = l.Decide(n.fates[:0], now, size)
	after := l.Stats()
	c.loss.Add(after.DroppedLoss + after.DroppedBurst - before.DroppedLoss - before.DroppedBurst)
	c.queue.Add(after.DroppedQueue - before.DroppedQueue)
	c.duplicated.Add(after.Duplicated - before.Duplicated)
	c.corrupted.Add(after.Corrupted - before.Corrupted)
	c.reordered.Add(after.Reordered - before.Reordered)
	for _, f := range n.fates {
		pend = append(pend, pending{to: to, msg: msg, f: f})
	}
	return pend
}

// unmap returns ap with an IPv4-mapped address as IPv4, as batchio reports
// peers, so both spellings name one endpoint.
func unmap(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// pairKey names the unordered pair {a, b}.
func pairKey(a, b netip.AddrPort) linkKey {
	a, b = unmap(a), unmap(b)
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return linkKey{a, b}
}

// linkSeed derives the seed of the link from -> to, so every link draws
// from its own stream and adding a node does not shift the draws of the
// others. Each word passes through SplitMix64's finalizer (Steele, Lea and
// Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
func linkSeed(seed, cfgSeed uint64, from, to netip.AddrPort) uint64 {
	h := mix(seed)
	h = mix(h ^ cfgSeed)
	for _, ap := range [2]netip.AddrPort{from, to} {
		a := ap.Addr().As16()
		h = mix(h ^ binary.LittleEndian.Uint64(a[:8]))
		h = mix(h ^ binary.LittleEndian.Uint64(a[8:]))
		h = mix(h ^ uint64(ap.Port()))
	}
	return h
}

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
