package relay

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// flow is one client's pair of directions, with the socket that faces the
// target for it.
type flow struct {
	client netip.AddrPort
	back   *batchio.Conn // the client's socket towards the target
	fwd    direction     // client -> target, written on back
	rev    direction     // target -> client, written on the front socket
}

// direction is one impaired direction of a flow: the pipe the reader feeds
// and the scheduler drains.
//
// Guard map: mu guards pipe. touched belongs to the reader goroutine.
// The counters are atomic.
type direction struct {
	out  *batchio.Conn
	to   netip.AddrPort
	wake chan struct{} // a datagram was offered: look at the pipe again

	mu   sync.Mutex
	pipe *netem.Pipe

	touched bool

	// perfect: the direction's model is a perfect link, so its reader
	// forwards each batch at once, from the read buffers, without the
	// pipe's copy, queue and handoff (the unimpaired path the relay must
	// sustain at 1 GB/s). Its Link stats stay zero.
	perfect bool
	out1    []batchio.Message // the reader's forwarding batch (perfect only)

	received, sent, failed atomic.Uint64
}

// flowSeed mixes a client's address into a configured seed, so two
// clients' flows draw independent fates and one client's draws are the same
// run after run.
func flowSeed(base uint64, client netip.AddrPort) uint64 {
	b := client.Addr().As16()
	h := base ^ 0x9e3779b97f4a7c15
	for _, x := range b {
		h = (h ^ uint64(x)) * 0x100000001b3 // FNV-1a step: stable across runs, unlike maphash
	}
	return (h ^ uint64(client.Port())) * 0x100000001b3
}

// newFlow opens client's flow and starts its goroutines; r.mu is held.
func (r *Relay) newFlow(client netip.AddrPort) (*flow, error) {
	back, _, err := listen(backBind(r.cfg.Target.Addr()), r.cfg.Batch)
	if err != nil {
		return nil, err
	}
	fc, rc := r.cfg.Forward, r.cfg.Reverse
	fc.Seed, rc.Seed = flowSeed(fc.Seed, client), flowSeed(rc.Seed+1, client)
	f := &flow{client: client, back: back}
	if err := f.fwd.init(fc, back, r.cfg.Target); err != nil {
		_ = back.Close()
		return nil, err
	}
	if err := f.rev.init(rc, r.front, client); err != nil {
		_ = back.Close()
		return nil, err
	}
	r.wg.Add(3)
	go f.fwd.run(&r.wg, r.done)
	go f.rev.run(&r.wg, r.done)
	go r.readBack(f)
	return f, nil
}

// backBind is the address a flow's socket towards target binds to: the
// loopback of target's family for a target on loopback (nothing is exposed),
// otherwise the unspecified address of its family, so that the kernel picks
// the source of the route to target (a relay between network namespaces
// forwards to a target no loopback socket can reach: connect(2) from
// 127.0.0.1 to another host fails with EINVAL, ip_route_output_key).
func backBind(target netip.Addr) string {
	switch {
	case target.IsLoopback() && target.Is4():
		return "127.0.0.1:0"
	case target.IsLoopback():
		return "[::1]:0"
	case target.Is4():
		return "0.0.0.0:0"
	}
	return "[::]:0"
}

func (d *direction) init(c netem.Config, out *batchio.Conn, to netip.AddrPort) error {
	p, err := netem.NewPipe(c)
	if err != nil {
		return err
	}
	d.pipe, d.out, d.to, d.wake = p, out, to, make(chan struct{}, 1)
	c.Seed = 0
	d.perfect = c == netem.Config{}
	return nil
}

// forwardLocked is offerLocked on a perfect direction: the datagram joins
// the reader's batch, sent by flush before the read buffers are reused.
// d.mu is held.
func (d *direction) forwardLocked(b []byte) {
	d.received.Add(1)
	d.out1 = append(d.out1, batchio.Message{Buffer: b, Addr: d.to})
}

// flush sends the reader's batch of a perfect direction.
func (d *direction) flush() {
	if len(d.out1) == 0 {
		return
	}
	d.write(d.out1)
	clear(d.out1)
	d.out1 = d.out1[:0]
}

// readBack reads the target's replies to f's client.
func (r *Relay) readBack(f *flow) {
	defer r.wg.Done()
	msgs := make([]batchio.Message, f.back.BatchSize())
	for {
		n, err := f.back.ReadBatch(msgs)
		if err != nil {
			return // closed
		}
		now := monotime.Now()
		f.rev.mu.Lock()
		for i := range msgs[:n] {
			switch {
			case msgs[i].Addr != r.cfg.Target:
			case f.rev.perfect:
				f.rev.forwardLocked(msgs[i].Buffer)
			default:
				f.rev.offerLocked(now, msgs[i].Buffer)
			}
		}
		f.rev.mu.Unlock()
		if f.rev.perfect {
			f.rev.flush()
		} else {
			f.rev.kick()
		}
	}
}

// offerLocked gives one datagram to the model; d.mu is held.
func (d *direction) offerLocked(now monotime.Time, b []byte) {
	d.received.Add(1)
	d.pipe.Send(now, b)
}

// kick wakes the scheduler.
func (d *direction) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run sends the copies as they fall due, in batches, until done closes.
func (d *direction) run(wg *sync.WaitGroup, done <-chan struct{}) {
	defer wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	batch := d.out.BatchSize()
	due := make([][]byte, 0, batch)
	msgs := make([]batchio.Message, 0, batch)
	for {
		now := monotime.Now()
		d.mu.Lock()
		due = d.pipe.Receive(now, due[:0])
		next, pending := d.pipe.Next()
		d.mu.Unlock()
		if len(due) > 0 {
			for off := 0; off < len(due); off += batch {
				chunk := due[off:min(off+batch, len(due))]
				msgs = msgs[:0]
				for _, b := range chunk {
					msgs = append(msgs, batchio.Message{Buffer: b, Addr: d.to})
				}
				d.write(msgs)
				d.mu.Lock()
				for _, b := range chunk {
					d.pipe.Release(b)
				}
				d.mu.Unlock()
			}
			clear(due)
			continue
		}
		if pending {
			t.Reset(max(next.Sub(now), 0))
		} else {
			t.Stop()
		}
		select {
		case <-d.wake:
		case <-t.C:
		case <-done:
			return
		}
	}
}

// write sends msgs, skipping any datagram the kernel refuses (an ICMP
// error reported on the socket, say) so the rest still leave.
func (d *direction) write(msgs []batchio.Message) {
	for len(msgs) > 0 {
		n, err := d.out.WriteBatch(msgs)
		d.sent.Add(uint64(n))
		if err == nil {
			return
		}
		if errors.Is(err, batchio.ErrClosed) {
			return
		}
		d.failed.Add(1)
		msgs = msgs[min(n+1, len(msgs)):]
	}
}

func (d *direction) stats() Stats {
	d.mu.Lock()
	l := d.pipe.Link().Stats()
	d.mu.Unlock()
	return Stats{Received: d.received.Load(), Sent: d.sent.Load(), Failed: d.failed.Load(), Link: l}
}
