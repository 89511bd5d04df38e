package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// `petrel send --persistent`: the receiver is a persistent peer of the
// sender's node (Node.AddPeer), so the node's supervisor dials it and, when
// a connection ends, redials it with backoff (core/supervisor.go); the
// command never dials itself. Each connection the supervisor installs is
// announced by OnConnect; the transfer runs on it, and when it fails with
// the connection (the receiver restarted, the path died) it starts again,
// from the file's first byte, on the next connection. "Resumes" is thus a
// whole new transfer on a new connection: the receiver stores only whole
// streams (a partial file is removed) and its receipt covers one stream,
// so no byte range is ever stitched across two connections.

// watchConns makes cfg's node announce each installed connection on the
// returned channel, keeping only the newest when nobody reads.
func watchConns(cfg *core.Config) chan *core.Conn {
	conns := make(chan *core.Conn, 1)
	cfg.OnConnect = func(_ *core.Peer, s core.Session, _ context.Context) {
		c, ok := s.(*core.Conn)
		if !ok {
			return
		}
		for {
			select {
			case conns <- c:
				return
			default:
			}
			select {
			case <-conns: // an older one nobody took: it has ended or is about to
			default:
			}
		}
	}
	return conns
}

// rewindable reports whether the source can be sent again from its start.
func (s *source) rewindable() error {
	if _, ok := s.r.(io.Seeker); !ok || s.size < 0 {
		return fmt.Errorf("--persistent needs a FILE: %s cannot be read again after a reconnect", s.name)
	}
	return nil
}

// sendPersistent sends src to the persistent peer key at to, on the
// connections the supervisor brings up, until a transfer is confirmed by
// its receipt or no connection came for c.reconnectFor.
func sendPersistent(ctx context.Context, w io.Writer, n *core.Node, conns <-chan *core.Conn, to netip.AddrPort, key core.PeerKey, src *source, c sendConfig) error {
	if _, err := n.AddPeer(key, to, true); err != nil {
		return err
	}
	seeker := src.r.(io.Seeker)
	var lost time.Time // when the last transfer failed; zero before the first
	for attempt := 1; ; attempt++ {
		conn, err := nextConn(ctx, conns, c.reconnectFor)
		if err != nil {
			if ctx.Err() != nil {
				return errors.New("interrupted while connecting")
			}
			return fmt.Errorf("no connection to %s for %v (the supervisor kept redialling): %w", c.to, c.reconnectFor, err)
		}
		if lost.IsZero() {
			slog.Info("connected", "peer", key, "addr", conn.RemoteAddr())
		} else {
			slog.Info("reconnected by the supervisor", "peer", key, "addr", conn.RemoteAddr(),
				"after_ms", time.Since(lost).Milliseconds(), "attempt", attempt)
		}
		if _, err := seeker.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind %s: %w", src.name, err)
		}
		err = transfer(ctx, w, conn, src, c.plain)
		var ra *receiverAbortError
		restarting := errors.As(err, &ra) && ra.code == abortShutdown
		if err == nil || ctx.Err() != nil || (conn.IsAlive() && !restarting) {
			// Done, interrupted, or failed for a reason a new connection
			// does not cure (the receiver refused the stream, a wrong
			// receipt, the file could not be read).
			return err
		}
		lost = time.Now()
		slog.Warn("transfer failed with its connection; waiting for the supervisor to reconnect",
			"err", err, "reason", conn.Err(), "attempt", attempt)
	}
}

// nextConn waits for the next live connection the supervisor installed.
func nextConn(ctx context.Context, conns <-chan *core.Conn, wait time.Duration) (*core.Conn, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case c := <-conns:
			if c.IsAlive() {
				return c, nil
			}
		case <-t.C:
			return nil, errors.New("timed out")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
