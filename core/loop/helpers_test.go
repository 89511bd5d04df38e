package loop

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/petrel-transport/petrel/batchio"
)

// driver is what core adapts: the API both drivers share.
type driver interface {
	WriteBatch(msgs []batchio.Message) (int, error)
	LocalAddr() netip.AddrPort
	Loops() int
	Stats() Stats
	Close() error
}

var (
	_ driver = (*Gnet)(nil)
	_ driver = (*Poller)(nil)
)

type kind struct {
	name   string
	listen func(addr string, cfg Config, h Handler) (driver, error)
}

var kinds = []kind{
	{"gnet", func(addr string, cfg Config, h Handler) (driver, error) { return ListenGnet(addr, cfg, h) }},
	{"poller", func(addr string, cfg Config, h Handler) (driver, error) { return ListenPoller(addr, cfg, h) }},
}

// guard is the failure guard of every wait: generous, never a pacing.
const guard = 60 * time.Second

// The test datagram is self-delimiting, so a coalesced receive (gnet's
// first read of a GRO socket) can be split: a 0xa5 mark, a pad byte, the
// record length (u16), the sequence number (u32), then bytes derived from
// both.
const (
	recordHeader = 8
	recordMark   = 0xa5
)

// sizeOf is datagram seq's length in [16, 1200): equal within groups of 8
// so sends make GSO runs, varied across groups.
func sizeOf(seq uint32) int { return 16 + int((seq/8)*7919%1184) }

func encode(buf []byte, seq uint32, size int) []byte {
	b := buf[:size]
	b[0], b[1] = recordMark, 0
	binary.LittleEndian.PutUint16(b[2:], uint16(size))
	binary.LittleEndian.PutUint32(b[4:], seq)
	for i := recordHeader; i < size; i++ {
		b[i] = byte(seq) + byte(i)*7
	}
	return b
}

// walk calls fn for each record of buf, checking each; it allocates
// nothing unless a record is bad.
func walk(buf []byte, fn func(seq uint32)) error {
	for len(buf) > 0 {
		if len(buf) < recordHeader || buf[0] != recordMark {
			return fmt.Errorf("bad record header % x", buf[:min(len(buf), recordHeader)])
		}
		size := int(binary.LittleEndian.Uint16(buf[2:]))
		if size < recordHeader || size > len(buf) {
			return fmt.Errorf("record length %d of %d bytes", size, len(buf))
		}
		seq := binary.LittleEndian.Uint32(buf[4:])
		for i := recordHeader; i < size; i++ {
			if buf[i] != byte(seq)+byte(i)*7 {
				return fmt.Errorf("record %d corrupt at byte %d", seq, i)
			}
		}
		fn(seq)
		buf = buf[size:]
	}
	return nil
}

// sink is a Handler that checks and counts records. Safe for the parallel
// calls of several loops.
type sink struct {
	from    atomic.Pointer[netip.AddrPort] // when set, every datagram's expected source
	seen    []atomic.Uint32
	records atomic.Int64
	msgs    atomic.Int64
	loops   [MaxLoops]atomic.Bool
	dups    atomic.Int64
	notify  []chan struct{} // one per waiter; a token after every batch
	closed  atomic.Bool     // set by the test once Close returned
	late    atomic.Int64    // HandleBatch calls after closed

	mu   sync.Mutex
	errs []error
}

func newSink(n int, waiters int) *sink {
	s := &sink{}
	if n > 0 {
		s.seen = make([]atomic.Uint32, n)
	}
	for range waiters {
		s.notify = append(s.notify, make(chan struct{}, 1))
	}
	return s
}

func (s *sink) expectFrom(a netip.AddrPort) { s.from.Store(&a) }

func (s *sink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 10 {
		s.errs = append(s.errs, err)
	}
}

func (s *sink) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func (s *sink) count(seq uint32) {
	if s.seen != nil {
		if int(seq) >= len(s.seen) {
			s.fail(fmt.Errorf("sequence %d out of range", seq))
			return
		}
		if s.seen[seq].Add(1) != 1 {
			s.dups.Add(1)
		}
	}
	s.records.Add(1)
}

func (s *sink) HandleBatch(loop int, msgs []batchio.Message) {
	if s.closed.Load() {
		s.late.Add(1)
	}
	s.loops[loop].Store(true)
	for i := range msgs {
		m := &msgs[i]
		if from := s.from.Load(); from != nil && m.Addr != *from {
			s.fail(fmt.Errorf("datagram from %v, want %v", m.Addr, *from))
		}
		if err := walk(m.Buffer, s.count); err != nil {
			s.fail(err)
		}
	}
	s.msgs.Add(int64(len(msgs)))
	for _, c := range s.notify {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// waitRecords waits until the sink counted at least n records, with wait
// the waiter's notify channel.
func (s *sink) waitRecords(ctx context.Context, wait <-chan struct{}, n int64) error {
	for s.records.Load() < n {
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d records arrived: %w", s.records.Load(), n, ctx.Err())
		}
	}
	return nil
}

// sender sends records [lo, hi) to dst through d, at most window of the
// shared count sent ahead of what rx counted.
type sender struct {
	d      driver
	dst    netip.AddrPort
	rx     *sink
	wait   <-chan struct{}
	sent   *atomic.Int64
	window int64
}

func (sn sender) run(ctx context.Context, lo, hi uint32) error {
	const batch = 64
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 1200)
	}
	msgs := make([]batchio.Message, batch)
	for seq := lo; seq < hi; {
		for sn.sent.Load()-sn.rx.records.Load() > sn.window {
			select {
			case <-sn.wait:
			case <-ctx.Done():
				return fmt.Errorf("window never opened: %d sent, %d received: %w", sn.sent.Load(), sn.rx.records.Load(), ctx.Err())
			}
		}
		k := 0
		for ; k < batch && seq < hi; k, seq = k+1, seq+1 {
			msgs[k] = batchio.Message{Buffer: encode(bufs[k], seq, sizeOf(seq)), Addr: sn.dst}
		}
		n, err := sn.d.WriteBatch(msgs[:k])
		sn.sent.Add(int64(n))
		if err != nil {
			return fmt.Errorf("WriteBatch: %d of %d: %w", n, k, err)
		}
	}
	return nil
}

// checkWakeups checks that st's per-wakeup figures are consistent.
func checkWakeups(t *testing.T, name string, st Stats) {
	t.Helper()
	var wakeups, lo, hi uint64
	for i, n := range st.PerWakeup {
		wakeups += n
		lo += n << i
		if i == WakeupBuckets-1 {
			hi = ^uint64(0)
		} else if hi != ^uint64(0) {
			hi += n * (1<<(i+1) - 1)
		}
	}
	switch {
	case st.Wakeups == 0 || st.Datagrams == 0:
		t.Errorf("%s: %d wakeups, %d datagrams: want both > 0", name, st.Wakeups, st.Datagrams)
	case wakeups != st.Wakeups:
		t.Errorf("%s: PerWakeup sums to %d wakeups, Wakeups = %d", name, wakeups, st.Wakeups)
	case st.Datagrams < lo || st.Datagrams > hi:
		t.Errorf("%s: %d datagrams outside what PerWakeup allows, [%d, %d]", name, st.Datagrams, lo, hi)
	case st.MaxPerWakeup == 0 || st.MaxPerWakeup > st.Datagrams || st.MaxPerWakeup*st.Wakeups < st.Datagrams:
		t.Errorf("%s: MaxPerWakeup %d inconsistent with %d datagrams in %d wakeups", name, st.MaxPerWakeup, st.Datagrams, st.Wakeups)
	}
}

// internals reaches into a driver for tests: its sockets' fds (dup'd; the
// caller closes them) and batchio.Stats.
func dupFDs(t *testing.T, d driver) []int {
	t.Helper()
	var fds []int
	switch d := d.(type) {
	case *Poller:
		for _, s := range d.socks {
			rc, err := s.uc.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var fd int
			var derr error
			if err := rc.Control(func(f uintptr) { fd, derr = unix.Dup(int(f)) }); err != nil || derr != nil {
				t.Fatal(err, derr)
			}
			fds = append(fds, fd)
		}
	default:
		fds = dupGnetFDs(t, d)
	}
	return fds
}

func sockStats(d driver) []batchio.Stats {
	var st []batchio.Stats
	switch d := d.(type) {
	case *Poller:
		for _, s := range d.socks {
			st = append(st, s.conn.Stats())
		}
	default:
		st = gnetSockStats(d)
	}
	return st
}

// open listens with k on 127.0.0.1, skipping where k is unsupported, and
// closes the driver when the test ends.
func open(t testing.TB, k kind, cfg Config, h Handler) driver {
	t.Helper()
	d, err := k.listen("127.0.0.1:0", cfg, h)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
