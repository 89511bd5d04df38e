package secure

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Timestamp is the initiation's replay counter: a TAI64N label (12 bytes,
// big-endian: 2^62 plus TAI seconds, then nanoseconds), as WireGuard's
// initiation carries. It travels encrypted and authenticated inside the
// first handshake message, so only the initiator's static key can produce
// one, and a responder accepts an initiation only if its timestamp is newer
// than every one accepted before from that key. Big-endian labels compare
// as byte strings.
type Timestamp [12]byte

// After reports whether t is later than u.
func (t Timestamp) After(u Timestamp) bool { return bytes.Compare(t[:], u[:]) > 0 }

// Time returns t as a wall-clock time (for logs and tests).
func (t Timestamp) Time() time.Time {
	sec := binary.BigEndian.Uint64(t[:8]) - tai64Base
	return time.Unix(int64(sec), int64(binary.BigEndian.Uint32(t[8:])))
}

// tai64Base is 2^62 plus the 10 s TAI was ahead of UTC in 1970 (the
// constant of the TAI64 format as WireGuard's tai64n package uses it).
const tai64Base = 0x400000000000000a

// whiten is how coarse a timestamp is: WireGuard rounds its nanoseconds
// down to 2^24 ns (about 16.8 ms) so an initiation does not reveal the
// sender's clock to a finer grain than that. A Stamper still makes every
// stamp strictly newer than the last, by adding a nanosecond when two fall
// in one grain.
const whiten = 1<<24 - 1

// Stamper issues strictly increasing timestamps from a wall clock. One
// Stamper per node (per static key) lets a node dial the same peer twice
// within one clock grain, or across a step of its clock backwards, and
// still have the newer initiation accepted. Across a restart it relies on
// the wall clock: a node whose clock stepped back behind the last stamp a
// peer accepted is refused by that peer until its clock passes it, as in
// WireGuard. The zero Stamper is ready; it is safe for concurrent use.
type Stamper struct {
	last atomic.Uint64 // nanoseconds since the Unix epoch of the last stamp
}

// Next returns a timestamp later than every one s returned before, taken
// from wall when wall is later.
func (s *Stamper) Next(wall time.Time) Timestamp {
	ns := uint64(wall.UnixNano()) &^ whiten
	for {
		last := s.last.Load()
		n := max(ns, last+1)
		if s.last.CompareAndSwap(last, n) {
			var t Timestamp
			binary.BigEndian.PutUint64(t[:8], tai64Base+n/1e9)
			binary.BigEndian.PutUint32(t[8:], uint32(n%1e9))
			return t
		}
	}
}

// processStamper serves initiators configured without a Stamper.
var processStamper Stamper

// ReplayGuard remembers, per initiator static key, the newest initiation
// timestamp accepted. It is how a responder refuses a replayed initiation
// and accepts a newer one at once (a restarted peer is never refused until
// a timeout). Implementations must be safe for concurrent use and atomic
// per key. core keeps the timestamp in its one entry per peer, so a peer it
// knows is never forgotten; TimestampTable is the standalone implementation.
type ReplayGuard interface {
	// Advance records ts as peer's newest timestamp and reports true if ts
	// is later than every timestamp recorded for peer; otherwise it changes
	// nothing and reports false.
	Advance(peer PublicKey, ts Timestamp) bool
}

// DefaultTimestampLimit is the default capacity of a TimestampTable: about
// 2 MB of entries.
const DefaultTimestampLimit = 16384

// TimestampTable is a ReplayGuard holding at most limit keys; past that it
// forgets the key least recently advanced. A forgotten key's old
// initiations could be replayed once each, and only while they still
// decrypt under the responder's static key: a replay can make the responder
// open a session the attacker cannot use (it lacks the initiator's
// ephemeral key) and that replaces the real one. Keep limit above the
// number of peers a node talks to; core also keeps each timestamp in the
// peer's record (core/replay.go), so eviction cannot reopen a known peer's
// initiations to replay. Safe for concurrent use.
type TimestampTable struct {
	limit int

	mu    sync.Mutex // guards the fields below
	byKey map[PublicKey]*list.Element
	lru   list.List // of *stampEntry, least recently advanced first
}

type stampEntry struct {
	key PublicKey
	ts  Timestamp
}

var _ ReplayGuard = (*TimestampTable)(nil)

// NewTimestampTable returns a table for at most limit keys (0 means
// DefaultTimestampLimit).
func NewTimestampTable(limit int) *TimestampTable {
	if limit <= 0 {
		limit = DefaultTimestampLimit
	}
	return &TimestampTable{limit: limit, byKey: make(map[PublicKey]*list.Element)}
}

// Advance implements ReplayGuard.
func (t *TimestampTable) Advance(peer PublicKey, ts Timestamp) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byKey[peer]; ok {
		se := e.Value.(*stampEntry)
		if !ts.After(se.ts) {
			return false
		}
		se.ts = ts
		t.lru.MoveToBack(e)
		return true
	}
	if t.lru.Len() >= t.limit {
		old := t.lru.Front()
		delete(t.byKey, old.Value.(*stampEntry).key)
		t.lru.Remove(old)
	}
	t.byKey[peer] = t.lru.PushBack(&stampEntry{key: peer, ts: ts})
	return true
}

// Len returns the number of keys held.
func (t *TimestampTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
