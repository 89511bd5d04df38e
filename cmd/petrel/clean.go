package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// cleanPhase moves c.cleanBytes from A to B on one stream over loopback,
// io.Copy at both ends, as fast as the transport goes; B checks every byte.
func cleanPhase(ctx context.Context, prog *progress, a, b *core.Node, c demoConfig) (*phaseResult, error) {
	ca, cb, err := pair(ctx, a, b, netip.AddrPort{})
	if err != nil {
		return nil, err
	}
	defer ca.Close()
	defer cb.Close()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pat := newPattern(patternPeriod, 1)
	total := int64(c.cleanBytes)
	res := &phaseResult{ab: newDirection()}
	start := time.Now()
	bar := prog.phase("clean", total, true, func() string {
		st := ca.Stats()
		return fmt.Sprintf("%7.1f MB/s  rtt %-8v cwnd %s", mbps(res.ab.total(), time.Since(start)), st.RTT.Round(10*time.Microsecond), size(int64(st.Cwnd)))
	})
	sent := make(chan error, 1)
	go func() {
		err := sendPattern(pctx, ca, &patternReader{pat: pat, limit: total})
		if err != nil {
			cancel() // B stops waiting for the stream
		}
		sent <- err
	}()
	recvErr := receivePattern(pctx, cb, &patternChecker{pat: pat, counters: []*atomic.Int64{&res.ab.streamBytes}, bar: bar}, total)
	res.took = time.Since(start)
	bar.finish()
	if err := <-sent; err != nil {
		return nil, fmt.Errorf("sending from A: %w", err)
	}
	if recvErr != nil {
		return nil, fmt.Errorf("receiving at B: %w", recvErr)
	}
	res.statsA, res.statsB = ca.Stats(), cb.Stats()
	return res, nil
}

// sendPattern opens a stream on c and copies r into it, then closes its
// write side.
func sendPattern(ctx context.Context, c *core.Conn, r io.Reader) error {
	st, err := c.OpenStream(ctx)
	if err != nil {
		return err
	}
	if err := copyOrAbort(ctx, st, st, r); err != nil { // the stream's ReadFrom
		return err
	}
	return st.CloseWrite()
}

// receivePattern accepts the stream the peer opens on c and copies it into
// chk until the peer's FIN, which must come after exactly want bytes.
func receivePattern(ctx context.Context, c *core.Conn, chk *patternChecker, want int64) error {
	st, err := c.AcceptStream(ctx)
	if err != nil {
		return err
	}
	if err := copyOrAbort(ctx, st, chk, st); err != nil { // the stream's WriteTo
		return err
	}
	if chk.off != want {
		return fmt.Errorf("the stream ended after %d bytes, want %d", chk.off, want)
	}
	return st.Close()
}

// copyOrAbort copies src to dst, one of them st, and aborts st if the copy
// fails or ctx ends first.
func copyOrAbort(ctx context.Context, st *core.Stream, dst io.Writer, src io.Reader) error {
	defer context.AfterFunc(ctx, func() { _ = st.Abort(abortInterrupted) })()
	if _, err := io.Copy(dst, src); err != nil {
		_ = st.Abort(abortInterrupted)
		return err
	}
	return ctx.Err()
}
