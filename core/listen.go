package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/petrel-transport/petrel/core/loop"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
)

// Listen opens a Node on a UDP socket bound to addr ("127.0.0.1:0",
// "[::]:4242"), moving its datagrams with the driver cfg.Transport.Driver
// selects (gnet event loops by default; the runtime-poller driver, which is
// also the fallback where gnet is not supported) over cfg.Transport.Loops
// SO_REUSEPORT sockets. cfg.Transport.Identity is the node's static key (a
// new one when nil); every other zero field takes its documented default.
func Listen(addr string, cfg Config) (*Node, error) {
	lc := loop.Config{Loops: cfg.Transport.Loops, Batch: cfg.Transport.Batch}
	return ListenDriver(func(h Handler) (Driver, error) {
		if cfg.Transport.Driver == DriverGnet {
			d, err := loop.ListenGnet(addr, lc, h)
			if err == nil {
				return d, nil
			}
			if !errors.Is(err, errors.ErrUnsupported) {
				return nil, err
			}
		}
		d, err := loop.ListenPoller(addr, lc, h)
		if err != nil {
			return nil, err
		}
		return d, nil
	}, cfg)
}

// ListenDriver opens a Node whose transport runs over the driver open
// returns (core/simnet in tests; Listen for real sockets). cfg.Transport
// configures the transport; cfg.Local comes from its identity.
func ListenDriver(open DriverFunc, cfg Config) (*Node, error) {
	cfg, err := cfg.withTransportDefaults()
	if err != nil {
		return nil, err
	}
	e, err := newEngine(nil, cfg.Transport)
	if err != nil {
		return nil, err
	}
	cfg.Dialer = e
	n, err := New(cfg)
	if err != nil {
		e.resp.Close()
		return nil, err
	}
	e.n = n
	n.eng = e
	drv, err := open(e)
	if err != nil {
		close(e.ready) // nothing can deliver; keep HandleBatch from blocking
		_ = n.Close()
		return nil, err
	}
	e.drv = drv
	close(e.ready)
	return n, nil
}

// close ends the transport after the registry's sweep: the driver stops
// (no HandleBatch runs once it returns), then every connection not
// installed in the registry (refused by the rule, or never accepted) ends.
func (e *engine) close() error {
	var err error
	if e.drv != nil {
		err = e.drv.Close()
	}
	e.conns.Range(func(_ wire.ConnID, c *Conn) bool {
		_ = c.Close()
		return true
	})
	e.resp.Close()
	e.kp.Zero()
	return err
}

// Dial connects to the peer with static key key at addr ("host:port") and
// returns the connection, or the one already established with it. Dials of
// one peer made at once share one dial and its connection. The dial
// is bounded by ctx, Config.DialTimeout and Close. A wrong key fails with a
// timeout (the peer cannot answer an initiation sealed to a key it does not
// hold, and says nothing: an answer would reveal it); a refusal (busy, not
// allowed) fails with a *secure.RefusedError.
func (n *Node) Dial(ctx context.Context, addr string, key PeerKey) (*Conn, error) {
	if n.eng == nil {
		return nil, errNoTransport
	}
	ap, err := resolve(ctx, addr)
	if err != nil {
		return nil, err
	}
	for {
		var wait <-chan struct{}
		var joined *joinedDial
		if c := n.liveConn(key); c != nil {
			if c.usable() {
				return c, nil
			}
			wait = c.settled // the peer's connection, not yet confirmed
		} else {
			// One Dial per peer at a time: the others wait for it and take
			// its connection, or its error (Connect would refuse them with
			// ErrDialInProgress; dialling again after it failed would make
			// N joined Dials of a dead peer take N dial timeouts).
			d, first := n.eng.joinDial(key)
			if first {
				c, err := n.dialOnce(ctx, ap, key)
				n.eng.dialEnded(key, d, err)
				if err != nil {
					if n.liveConn(key) != nil {
						continue // a crossing dial of the peer's won: take it
					}
					return nil, err
				}
				if c.usable() {
					return c, nil
				}
				wait = c.settled
			} else {
				wait, joined = d.done, d
			}
		}
		if wait == nil {
			continue // our own connection, ended already: dial again
		}
		select {
		case <-wait:
			if joined != nil && joined.err != nil && n.liveConn(key) == nil {
				return nil, joined.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// liveConn returns key's installed connection if it is alive.
func (n *Node) liveConn(key PeerKey) *Conn {
	if p, ok := n.table.Load(key); ok {
		if c, ok := p.Session().(*Conn); ok && c.IsAlive() {
			return c
		}
	}
	return nil
}

// dialOnce is Dial's dial, made by one caller per peer at a time.
func (n *Node) dialOnce(ctx context.Context, ap netip.AddrPort, key PeerKey) (*Conn, error) {
	p, err := n.AddPeer(key, ap, false)
	if err != nil {
		return nil, err
	}
	s, err := n.Connect(ctx, key)
	if errors.Is(err, ErrKept) {
		err = nil // the peer's own connection won the double-connection rule: use it
	}
	if err != nil {
		return nil, err
	}
	c, ok := s.(*Conn)
	if !ok {
		return nil, fmt.Errorf("core: installed session is a %T, not a transport connection", s)
	}
	c.peer.CompareAndSwap(nil, p)
	return c, nil
}

// Accept returns the next incoming connection. It parks until one is
// established (the initiator confirmed the handshake with its first
// packet), ctx ends or the node closes (ErrClosed).
//
// An incoming connection holds a transient reservation until Accept
// returns it (or, with a ring topology, until Promote): one not accepted
// within Config.Ring.TransientTTL (default 30 s) is closed with
// ErrTransientExpired, and at most Ring.TransientBudget wait at once.
func (n *Node) Accept(ctx context.Context) (*Conn, error) {
	if n.eng == nil {
		return nil, errNoTransport
	}
	for {
		select {
		case c := <-n.eng.accepts:
			if c.IsAlive() {
				n.established(c.Peer())
				return c, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// LocalKey is the node's static public key: its identity to peers.
func (n *Node) LocalKey() PeerKey { return n.cfg.Local }

// Addr is the address the node's transport is bound to (invalid for a Node
// made with New).
func (n *Node) Addr() netip.AddrPort {
	if n.eng == nil || n.eng.drv == nil {
		return netip.AddrPort{}
	}
	return n.eng.drv.LocalAddr()
}

// Identity returns the node's public key as the secure layer names it.
func (n *Node) Identity() secure.PublicKey { return secure.PublicKey(n.cfg.Local) }

var errNoTransport = errors.New("core: node has no transport (made with New, not Listen)")

// resolve turns "host:port" into an address, resolving a host name.
func resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("core: resolve %q: %w", addr, err)
	}
	pn, err := net.LookupPort("udp", port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(pn)), nil
}
