package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// Config configures a Relay.
type Config struct {
	// Listen is the address clients send to. Zero: "127.0.0.1:0" (a port
	// the kernel picks; Relay.Addr tells it).
	Listen string
	// Target is where the relay forwards clients' datagrams. Required.
	Target netip.AddrPort
	// Forward impairs client-to-target datagrams, Reverse target-to-client.
	// Zero: a perfect link. Each flow's pipes are seeded from these
	// Configs' Seeds and the client's address, so a run is reproducible.
	Forward, Reverse netem.Config
	// MaxFlows bounds the clients served at once. Zero: 64.
	MaxFlows int
	// Batch configures the relay's sockets. Zero: batchio's defaults.
	Batch batchio.Config
}

// Stats counts a relay's traffic in one direction.
type Stats struct {
	Received uint64      // datagrams read
	Sent     uint64      // copies written
	Failed   uint64      // copies the kernel refused to send
	Link     netem.Stats // what the impairment model decided
}

// Relay forwards datagrams between clients and a target through the
// impairment model. Its methods are safe for concurrent use.
type Relay struct {
	cfg   Config
	front *batchio.Conn // the socket clients send to
	addr  netip.AddrPort

	mu     sync.Mutex
	flows  map[netip.AddrPort]*flow
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup

	refused atomic.Uint64 // datagrams from new clients beyond MaxFlows, dropped
}

// New starts a relay.
func New(cfg Config) (*Relay, error) {
	if !cfg.Target.IsValid() {
		return nil, errors.New("relay: Config.Target is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.MaxFlows == 0 {
		cfg.MaxFlows = 64
	}
	if cfg.MaxFlows < 0 {
		return nil, fmt.Errorf("relay: MaxFlows %d is negative", cfg.MaxFlows)
	}
	for _, c := range []netem.Config{cfg.Forward, cfg.Reverse} {
		if _, err := netem.New(c); err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
	}
	front, addr, err := listen(cfg.Listen, cfg.Batch)
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, front: front, addr: addr, flows: make(map[netip.AddrPort]*flow), done: make(chan struct{})}
	r.wg.Add(1)
	go r.readFront()
	return r, nil
}

// listen opens a batched UDP socket at addr.
func listen(addr string, bc batchio.Config) (*batchio.Conn, netip.AddrPort, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("relay: %w", err)
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("relay: %w", err)
	}
	ap := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	c, err := batchio.New(uc, bc)
	if err != nil {
		_ = uc.Close()
		return nil, netip.AddrPort{}, fmt.Errorf("relay: %w", err)
	}
	return c, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// Addr is the address clients send to.
func (r *Relay) Addr() netip.AddrPort { return r.addr }

// Refused counts datagrams dropped because they came from a new client
// while MaxFlows clients were being served.
func (r *Relay) Refused() uint64 { return r.refused.Load() }

// Stats returns the totals of every flow: client-to-target (forward) and
// target-to-client (reverse).
func (r *Relay) Stats() (forward, reverse Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.flows {
		forward.add(f.fwd.stats())
		reverse.add(f.rev.stats())
	}
	return forward, reverse
}

func (s *Stats) add(o Stats) {
	s.Received += o.Received
	s.Sent += o.Sent
	s.Failed += o.Failed
	l, m := &s.Link, o.Link
	l.Sent += m.Sent
	l.SentBytes += m.SentBytes
	l.Delivered += m.Delivered
	l.DeliveredBytes += m.DeliveredBytes
	l.DroppedLoss += m.DroppedLoss
	l.DroppedBurst += m.DroppedBurst
	l.DroppedQueue += m.DroppedQueue
	l.Duplicated += m.Duplicated
	l.Corrupted += m.Corrupted
	l.Reordered += m.Reordered
}

// Close stops the relay: its sockets close and every goroutine ends before
// Close returns. Datagrams still in the model are dropped.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	close(r.done)
	flows := r.flows
	r.mu.Unlock()
	err := r.front.Close()
	for _, f := range flows {
		_ = f.back.Close()
	}
	r.wg.Wait()
	return err
}

// readFront reads clients' datagrams and offers each to its flow's forward
// pipe, taking each pipe's lock once per run of datagrams from one client.
func (r *Relay) readFront() {
	defer r.wg.Done()
	msgs := make([]batchio.Message, r.front.BatchSize())
	var touched []*flow
	for {
		n, err := r.front.ReadBatch(msgs)
		if err != nil {
			return // closed
		}
		now := monotime.Now()
		var cur *flow
		for i := range msgs[:n] {
			m := &msgs[i]
			if cur == nil || cur.client != m.Addr {
				if cur != nil {
					cur.fwd.mu.Unlock()
				}
				if cur = r.flowOf(m.Addr); cur == nil {
					r.refused.Add(1)
					continue
				}
				if !cur.fwd.touched {
					cur.fwd.touched = true
					touched = append(touched, cur)
				}
				cur.fwd.mu.Lock()
			}
			if cur.fwd.perfect {
				cur.fwd.forwardLocked(m.Buffer)
			} else {
				cur.fwd.offerLocked(now, m.Buffer)
			}
		}
		if cur != nil {
			cur.fwd.mu.Unlock()
		}
		for i, f := range touched {
			f.fwd.touched = false
			if f.fwd.perfect {
				f.fwd.flush() // before the next read reuses the buffers
			} else {
				f.fwd.kick()
			}
			touched[i] = nil
		}
		touched = touched[:0]
	}
}

// flowOf returns client's flow, opening it on its first datagram.
func (r *Relay) flowOf(client netip.AddrPort) *flow {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.flows[client]; ok || r.closed {
		return f
	}
	if len(r.flows) >= r.cfg.MaxFlows {
		return nil
	}
	f, err := r.newFlow(client)
	if err != nil {
		return nil
	}
	r.flows[client] = f
	return f
}
