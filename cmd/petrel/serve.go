package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
)

const serveHelp = `serve listens on --listen and prints two lines on standard output, for
people and scripts alike:

  key 5c0f3e...          the node's public key (64 hex digits): a sender needs it
  addr 127.0.0.1:41234   the address it listens on (the port it got, for port 0)

Then it accepts connections and, on each, the streams the sender opens.
Each stream's bytes go to a new file in --out (or are discarded without
--out); once the sender has finished, serve fsyncs the file and answers
with a receipt (the count and SHA-256 of what it stored) that the sender
checks. Each connection and each stream is logged on standard error. It
runs until SIGINT (Ctrl-C) or SIGTERM, or until --count streams arrived.

Anyone who can reach the address and knows the key can store files in
--out: the key proves who the server is, not who the sender is.

Example, two terminals on one machine:

  terminal 1$ petrel serve --out /tmp/inbox
  key 5c0f3e...
  addr 127.0.0.1:41234
  terminal 2$ petrel send --to 127.0.0.1:41234 --key 5c0f3e... ./photo.jpg

Between two machines, listen on an address the other can reach, and keep
the key across restarts in a key file:

  $ petrel keygen --out server.key
  $ petrel serve --listen 0.0.0.0:4242 --identity server.key --out ~/inbox
`

// drainGrace bounds how long serve waits, after its --count-th stream, for
// the senders to close their connections: a sender closes its connection
// once it has read its receipt, so waiting lets the last receipt arrive
// before the node's close ends the connection it travels on.
const drainGrace = 10 * time.Second

// serveConfig is what `petrel serve` runs; every field has a flag.
type serveConfig struct {
	nodeFlags
	listen, identity, out string
	count                 int
}

func serveFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	var c serveConfig
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "UDP address to listen on; port 0 picks a free port (serve prints the one it got).\n127.0.0.1 takes connections from this machine only; 0.0.0.0:PORT or [::]:PORT from others too")
	fs.StringVar(&c.identity, "identity", "", "key file with the node's identity (made by petrel keygen, or created with mode 0600 if missing),\nso that its key stays the same across runs. Empty: a new key each run")
	fs.StringVar(&c.out, "out", "", "existing directory to store each stream in, as a new file PEER-STREAM (the sender's key\nprefix and the stream id; .1, .2, ... appended rather than replace a file). Empty: discard")
	fs.IntVar(&c.count, "count", 0, "exit with status 0 once this many streams were received whole. 0: run until SIGINT or SIGTERM")
	c.register(fs)
	return func(ctx context.Context, w io.Writer) error { return runServe(ctx, w, c) }
}

func runServe(ctx context.Context, w io.Writer, c serveConfig) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if c.count < 0 {
		return fmt.Errorf("--count %d is negative", c.count)
	}
	if c.out != "" {
		fi, err := os.Stat(c.out)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("--out %s is not a directory", c.out)
		}
	}
	if c.identity != "" {
		kp, created, err := secure.LoadOrCreateKeyPair(c.identity)
		if err != nil {
			return fmt.Errorf("--identity: %w", err)
		}
		defer kp.Zero()
		if created {
			slog.Info("created a new identity", "file", c.identity)
		}
		cfg.Transport.Identity = &kp
	}
	n, err := core.Listen(c.listen, cfg)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", c.listen, err)
	}
	exportNode(ctx, "serve", n)
	fmt.Fprintf(w, "key %v\naddr %v\n", n.Identity(), n.Addr())
	slog.Info("waiting for streams", "example", fmt.Sprintf("petrel send --to %v --key %v FILE", n.Addr(), n.Identity()))
	return newServer(ctx, n, c).run()
}

// server receives the streams of `petrel serve`. One goroutine accepts
// connections, one per connection accepts its streams, one per stream
// receives it; wg counts them all.
//
// Guard map: node, out, count, the contexts and enough are immutable after
// newServer; received is atomic; acceptErr is written by the accepting
// goroutine before it cancels stop.
type server struct {
	node  *core.Node
	out   string // directory for the streams' files; "" discards
	count int64  // streams to receive before exiting; 0: no limit

	ctx        context.Context    // the command's: a signal cancels it
	stop       context.Context    // cancelled to shut down: no more connections, streams still receiving are aborted
	shutdown   context.CancelFunc // cancels stop
	conns      context.Context    // cancelled when the node closes: connections stop accepting streams
	closeConns context.CancelFunc // cancels conns
	received   atomic.Int64
	enough     chan struct{} // closed when received reaches count
	acceptErr  error
	wg         sync.WaitGroup
}

func newServer(ctx context.Context, n *core.Node, c serveConfig) *server {
	s := &server{node: n, out: c.out, count: int64(c.count), ctx: ctx, enough: make(chan struct{})}
	s.stop, s.shutdown = context.WithCancel(ctx)
	s.conns, s.closeConns = context.WithCancel(context.Background())
	return s
}

// run serves until a signal, a failed Accept or count streams, then closes
// the node and waits for every goroutine of the server.
func (s *server) run() error {
	s.wg.Go(s.acceptConns)
	select {
	case <-s.stop.Done():
	case <-s.enough:
		s.shutdown()
		s.drain()
	}
	s.shutdown()
	slog.Info("shutting down", "received", s.received.Load())
	s.closeConns()
	err := s.node.Close()
	s.wg.Wait()
	return errors.Join(s.acceptErr, err)
}

// drain waits, up to drainGrace or a signal, for the senders to close their
// connections (see drainGrace).
func (s *server) drain() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(drainGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		slog.Warn("senders still connected; closing anyway", "waited", drainGrace)
	case <-s.ctx.Done():
	}
}

func (s *server) acceptConns() {
	for {
		c, err := s.node.Accept(s.stop)
		if err != nil {
			if s.stop.Err() == nil {
				s.acceptErr = fmt.Errorf("accept: %w", err)
				s.shutdown()
			}
			return
		}
		slog.Info("connection", "peer", c.RemoteKey(), "addr", c.RemoteAddr())
		s.wg.Go(func() { s.serveConn(c) })
	}
}

// serveConn accepts c's streams until c ends (the sender closes it once it
// has its receipts) or the node closes.
func (s *server) serveConn(c *core.Conn) {
	defer c.Close()
	for {
		st, err := c.AcceptStream(s.conns)
		if err != nil {
			slog.Debug("connection ended", "peer", c.RemoteKey(), "reason", err)
			return
		}
		s.wg.Go(func() { s.receive(c, st) })
	}
}

// receive stores one stream, then answers with its receipt.
func (s *server) receive(c *core.Conn, st *core.Stream) {
	peer := c.RemoteKey()
	log := slog.With("peer", peer, "stream", st.ID())
	start := time.Now()
	stopAbort := context.AfterFunc(s.stop, func() { _ = st.Abort(abortShutdown) })
	defer stopAbort()
	out, err := s.open(peer, st.ID())
	if err != nil {
		log.Error("cannot store the stream", "err", err)
		_ = st.Abort(abortNotStored)
		return
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), st)
	if err == nil {
		err = out.commit()
	}
	if err == nil && !stopAbort() {
		err = errors.New("serve is shutting down")
	}
	if err != nil {
		out.discard()
		_ = st.Abort(abortNotStored) // a no-op if the stream already ended
		var ae *core.StreamAbortError
		switch {
		case errors.As(err, &ae) && ae.Remote:
			err = fmt.Errorf("the sender aborted: %s", abortReason(ae.Code))
		case s.stop.Err() != nil:
			err = errors.New("serve is shutting down")
		}
		log.Warn("stream not received", "after", size(n), "err", err)
		return
	}
	took := time.Since(start)
	rc := receipt{n: uint64(n)}
	h.Sum(rc.sum[:0])
	if _, err := st.Write(rc.marshal()); err != nil {
		log.Warn("stream stored, receipt not sent", "file", out.name(), "err", err)
		return
	}
	if err := st.Close(); err != nil {
		log.Warn("stream stored, receipt not sent", "file", out.name(), "err", err)
		return
	}
	log.Info("received", "bytes", n, "took", took.Round(time.Millisecond),
		"MB/s", fmt.Sprintf("%.1f", float64(n)/took.Seconds()/1e6), "file", out.name(),
		"addr", c.RemoteAddr()) // the sender's address now: it differs from the connection line's after a rebinding
	if s.received.Add(1) == s.count {
		close(s.enough)
	}
}
