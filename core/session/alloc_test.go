package session_test

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// The allocation tests drive two sessions by hand, with no goroutine: a
// Sender that copies packets into reused buffers, deliveries made by the
// test, and a fake clock the test advances. testing.AllocsPerRun counts
// every allocation of the process, so nothing else may run meanwhile.

// queue is a Sender keeping copies of the packets in buffers it reuses.
type queue struct {
	bufs [][]byte
	n    int
}

func (q *queue) Send(_ netip.AddrPort, pkts [][]byte) error {
	for _, p := range pkts {
		if q.n == len(q.bufs) {
			q.bufs = append(q.bufs, make([]byte, 0, wire.MaxPacketSize))
		}
		q.bufs[q.n] = append(q.bufs[q.n][:0], p...)
		q.n++
	}
	return nil
}

// syncPair is two sessions joined by queues the test drains.
type syncPair struct {
	a, b   *session.Session
	ab, ba queue
	now    monotime.Time
	wheel  *wheel.Wheel
}

func newSyncPair(t *testing.T) *syncPair {
	t.Helper()
	p := &syncPair{now: monotime.Time(time.Second)}
	w, err := wheel.New(p.now, wheel.Config{Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.wheel = w
	var s1, s2 [32]byte
	for i := range s1 {
		s1[i], s2[i] = byte(i), byte(100+i)
	}
	pa, err := secure.NewProtector(secure.AES128GCM, &s1, &s2, secure.ProtectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := secure.NewProtector(secure.AES128GCM, &s2, &s1, secure.ProtectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() monotime.Time { return p.now }
	mk := func(prot *secure.Protector, local, remote wire.ConnID, to netip.AddrPort, out session.Sender) *session.Session {
		s, err := session.New(session.Config{
			Protector: prot, LocalCID: local, RemoteCID: remote, Remote: to, Out: out,
			Wheel: w, Clock: clock, KeepaliveInterval: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p.a = mk(pa, wire.ConnID{1}, wire.ConnID{2}, addrB, &p.ab)
	p.b = mk(pb, wire.ConnID{2}, wire.ConnID{1}, addrA, &p.ba)
	t.Cleanup(func() { p.a.Close(); p.b.Close() })
	return p
}

// deliver hands every queued packet of q to dst as one batch, then
// flushes dst once (what a driver does per batch).
func (p *syncPair) deliver(q *queue, dst *session.Session, from netip.AddrPort) int {
	n := q.n
	for i := range n {
		dst.HandlePacket(q.bufs[i], from, p.now)
	}
	q.n = 0
	if n > 0 {
		dst.Flush(p.now)
	}
	return n
}

// settle moves packets both ways and advances time until both queues stay
// empty (delayed ACKs fire on the wheel).
func (p *syncPair) settle() {
	for range 100 {
		moved := p.deliver(&p.ab, p.b, addrA) + p.deliver(&p.ba, p.a, addrB)
		p.now = p.now.Add(time.Millisecond)
		p.wheel.Advance(p.now)
		if moved == 0 && p.ab.n == 0 && p.ba.n == 0 {
			return
		}
	}
}

// mallocs counts the heap allocations f makes (the process's, as
// testing.AllocsPerRun counts them), running it once.
func mallocs(f func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs - before.Mallocs)
}

// TestAllocsSteadyState: once warm, sending a message that fits a packet,
// receiving the batch that carries it, acknowledging it and reading it
// allocate nothing, on either side.
func TestAllocsSteadyState(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts under the race detector: make test runs the allocation tests again without it")
	}
	p := newSyncPair(t)
	// Nothing here parks for long: the window and the pacer are open when
	// each send starts (time advances between sends). The deadline turns a
	// regression into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := make([]byte, 1000)
	dst := make([]byte, 0, 2048)
	var err error
	// send queues n one-packet messages, a millisecond apart (the pacer's
	// budget refills in between), without delivering them.
	send := func(n int) {
		for i := range n {
			msg[0] = byte(i)
			if err := p.a.SendMessage(ctx, msg); err != nil {
				t.Fatal(err)
			}
			p.now = p.now.Add(time.Millisecond)
			p.wheel.Advance(p.now)
		}
	}
	receive := func(n int) {
		for i := range n {
			if dst, err = p.b.ReceiveMessageInto(ctx, dst); err != nil || len(dst) != len(msg) || dst[0] != byte(i) {
				t.Fatalf("message %d: %d bytes, %v", i, len(dst), err)
			}
		}
	}
	round := func() {
		send(8)
		p.settle()
		receive(8)
	}
	for range 200 { // warm the pools, the ACK ranges and the sent log
		round()
	}
	if got := testing.AllocsPerRun(200, round); got != 0 {
		t.Errorf("steady state: %.2f allocations per round of 8 messages, want 0", got)
	}
	// The receive side alone: a batch of 8 packets handled and flushed.
	var recvAllocs float64
	for i := range 50 {
		send(8)
		var n int
		got := mallocs(func() { n = p.deliver(&p.ab, p.b, addrA) })
		if n != 8 {
			t.Fatalf("batch of %d packets, want 8", n)
		}
		if i >= 10 {
			recvAllocs += got
		}
		p.settle()
		receive(8)
	}
	if recvAllocs != 0 {
		t.Errorf("receiving a batch of 8 packets: %.2f allocations over 40 batches, want 0", recvAllocs)
	}
	st := p.a.Stats()
	if st.InFlight != 0 {
		t.Errorf("in flight at quiescence: %d bytes, want 0", st.InFlight)
	}
	t.Logf("sent %d packets, %d retransmits", st.PacketsSent, st.Retransmits)
}
