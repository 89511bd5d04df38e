package transfer

// The setups of BenchmarkPeers: one server endpoint and n client
// endpoints, each client with a connection of its own to the server and
// one stream on it, announced by its hello byte and accepted (and the
// hello read) on the server's side. Clients are dialled peerDialers at a
// time; the server accepts connections as they come, and each connection's
// stream on a goroutine of its own. Every endpoint, connection and stream
// is registered with the link, whose Close closes them all.

import (
	"context"
	"fmt"
	"sync"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/bench/internal/transports"
	"github.com/petrel-transport/petrel/core"
)

// peerDialers is the number of dials in flight at once: enough to set up
// 1,000 peers in seconds, few enough that the server's handshake budget
// and accept backlog (core.DefaultAcceptBacklog, 128) are never the limit.
const peerDialers = 32

// peersSetup opens a server and n clients on l (everything registered
// with l.onClose, even on error) and returns their streams, client side
// sending.
type peersSetup func(ctx context.Context, l *link, n int) (*flows, error)

// peerClientConfig is the configuration of every petrel client node of
// BenchmarkPeers, at every peer count: the poller driver (a goroutine
// parked in Go's poller per node, where gnet runs event loops of its
// own), and batchio sized for a node that sends one stream and receives
// ACKs: batches of 8 without GRO (a GRO receive arena is a batch of 64 KB
// slots, 4 MB at the default batch of 64: 4 GB for 1,000 nodes) and 1 MiB
// socket buffers, a bandwidth-delay product of 10 Gbit/s at loopback's
// round trip of well under a millisecond.
func peerClientConfig() core.Config {
	cfg := petrelConfig(core.DriverPoller)
	cfg.Transport.Batch = batchio.Config{BatchSize: 8, DisableGRO: true, RecvBufferSize: 1 << 20, SendBufferSize: 1 << 20}
	// 1,000 senders share two cores with the server: a write may wait
	// seconds for window, which is slowness to measure, not a failure
	// (the default aborts the stream after 3 s).
	cfg.Transport.WindowWaitTimeout = -1
	return cfg
}

// collector gathers what setup goroutines open: closers to register with
// the link and the streams of both sides, and the first error.
type collector struct {
	mu      sync.Mutex
	closers []func() error
	ws, rs  []stream
	err     error
}

func (c *collector) add(f func() error) { c.mu.Lock(); c.closers = append(c.closers, f); c.mu.Unlock() }

func (c *collector) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// register hands everything collected to l, in the order opened.
func (c *collector) register(l *link) {
	for _, f := range c.closers {
		l.onClose(f)
	}
}

// peers runs the setup of n clients: dial(i) opens client i's connection
// and stream (and writes its hello), accept waits for the next server-side
// stream (and reads its hello). It returns once every client is set up
// and every stream accepted, or once one step failed and every goroutine
// it started has ended (ctx's cancel and l.Close unblock them).
func peers(ctx context.Context, l *link, n int, dial func(ctx context.Context, c *collector) error, accept func(ctx context.Context, c *collector) error) (*flows, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var c collector
	var wg sync.WaitGroup
	sem := make(chan struct{}, peerDialers)
	wg.Go(func() {
		if err := accept(ctx, &c); err != nil {
			c.fail(fmt.Errorf("accept: %w", err))
			cancel()
		}
	})
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := dial(ctx, &c); err != nil {
				c.fail(fmt.Errorf("client %d of %d: %w", i+1, n, err))
				cancel()
			}
		})
	}
	wg.Wait()
	c.register(l)
	if c.err != nil {
		return nil, c.err
	}
	if len(c.ws) != n || len(c.rs) != n {
		return nil, fmt.Errorf("%d client streams and %d server streams, want %d", len(c.ws), len(c.rs), n)
	}
	f := &flows{ws: c.ws, rs: c.rs, bufs: make([][]byte, n)}
	for i := range f.bufs {
		f.bufs[i] = make([]byte, bufSize)
	}
	return f, nil
}

// acceptStreams accepts n streams with next (each on a goroutine of its
// own once next returned it, to read its hello) and collects them.
func acceptStreams(ctx context.Context, c *collector, n int, next func(ctx context.Context) (func(ctx context.Context) (stream, error), error)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for range n {
		acceptStream, err := next(ctx)
		if err != nil {
			return err
		}
		wg.Go(func() {
			s, err := acceptStream(ctx)
			if err == nil {
				err = hello(ctx, s, make([]byte, 1))
			}
			if err != nil {
				c.fail(fmt.Errorf("accept stream: %w", err))
				return
			}
			c.mu.Lock()
			c.rs = append(c.rs, s)
			c.mu.Unlock()
		})
	}
	return nil
}

// petrelPeers: one server node (gnet driver, as BenchmarkStreams' petrel)
// and n client nodes (peerClientConfig), each dialling the server.
func petrelPeers(ctx context.Context, l *link, n int) (*flows, error) {
	cfg := petrelConfig(core.DriverGnet)
	// The first clients' streams wait, hello sent, while the last are
	// set up (seconds, at 1,000 peers): a stream that brings nothing for
	// StreamInactivityTimeout (5 s by default) is aborted by the server.
	cfg.Transport.StreamInactivityTimeout = -1
	srv, err := transports.ListenPetrel(cfg)
	if err != nil {
		return nil, err
	}
	l.onClose(srv.Close)
	dial := func(ctx context.Context, c *collector) error {
		conn, node, err := transports.DialPetrel(ctx, peerClientConfig(), srv.Addr(), srv.LocalKey())
		if err != nil {
			return err
		}
		c.add(node.Close)
		c.add(conn.Close)
		s, err := conn.OpenStream(ctx)
		if err != nil {
			return err
		}
		if _, err := s.Write(payload[:1]); err != nil {
			return err
		}
		c.mu.Lock()
		c.ws = append(c.ws, s)
		c.mu.Unlock()
		return nil
	}
	accept := func(ctx context.Context, c *collector) error {
		return acceptStreams(ctx, c, n, func(ctx context.Context) (func(ctx context.Context) (stream, error), error) {
			sc, err := srv.Accept(ctx)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) (stream, error) { return asStream(sc.AcceptStream(ctx)) }, nil
		})
	}
	return peers(ctx, l, n, dial, accept)
}

// quicPeers: one quic-go listener and n clients, each on a socket and a
// quic.Transport of its own (transports.DialQUIC).
func quicPeers(ctx context.Context, l *link, n int) (*flows, error) {
	cfg := quicConfig()
	ln, closeServer, err := transports.ListenQUIC(cfg)
	if err != nil {
		return nil, err
	}
	l.onClose(closeServer)
	dial := func(ctx context.Context, c *collector) error {
		conn, closeClient, err := transports.DialQUIC(ctx, transports.AddrOf(ln), cfg)
		if err != nil {
			return err
		}
		c.add(closeClient)
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return err
		}
		if _, err := s.Write(payload[:1]); err != nil {
			return err
		}
		c.mu.Lock()
		c.ws = append(c.ws, s)
		c.mu.Unlock()
		return nil
	}
	accept := func(ctx context.Context, c *collector) error {
		return acceptStreams(ctx, c, n, func(ctx context.Context) (func(ctx context.Context) (stream, error), error) {
			sc, err := ln.Accept(ctx)
			if err != nil {
				return nil, err
			}
			c.add(func() error { return sc.CloseWithError(0, "") })
			return func(ctx context.Context) (stream, error) { return asStream(sc.AcceptStream(ctx)) }, nil
		})
	}
	return peers(ctx, l, n, dial, accept)
}
