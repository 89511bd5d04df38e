package transfer

// A run of a benchmark, once its link is set up:
//
//	openFlows: k streams opened on the sending side, each announced by a
//	  one-byte hello (a QUIC stream, and petrel's, reaches the peer with
//	  its first data), and accepted on the receiving side;
//	move: per stream, one goroutine writes n bytes in 64 KiB writes and
//	  another reads them into a 64 KiB buffer of that stream's and
//	  discards them; the calling goroutine watches: it returns when every
//	  goroutine has ended, and aborts the run (past deadlines, link
//	  closed) on the first error or once no byte has arrived on any
//	  stream for the stall bound.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// bufSize is the size of every write and of every read buffer: 64 KiB,
// io.Copy's large-write regime (its own buffer is 32 KiB; 64 KiB is what a
// user copying a file with a larger buffer writes).
const bufSize = 64 << 10

// bound limits every wait: a setup step (dial, accept, open) and the time
// a run may go without a byte arriving. Even the impaired path (1% loss,
// 20 ms RTT) delivers something every few round trips; a minute of
// silence is a stall, not slowness.
const bound = time.Minute

// payload is what every writer sends: bytes that are not all zero (a
// transport that compressed or skipped zeros would measure nothing), read
// only, shared by every writer.
var payload = func() []byte {
	p := make([]byte, bufSize)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}()

// flows are the k streams of a run: ws[i] is a sending end, rs[i] a
// receiving end (not necessarily of the same stream: every stream carries
// the same bytes), bufs[i] rs[i]'s read buffer.
type flows struct {
	ws, rs []stream
	bufs   [][]byte
}

// openFlows opens k streams on l and accepts them, each announced by its
// hello byte, which the receiving side reads. The sending side runs on a
// goroutine of its own, which has ended when openFlows returns.
func openFlows(ctx context.Context, l *link, k int) (*flows, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	f := &flows{ws: make([]stream, 0, k), rs: make([]stream, 0, k), bufs: make([][]byte, k)}
	opened := make(chan error, 1)
	go func() {
		for range k {
			s, err := l.open(ctx)
			if err == nil {
				f.ws = append(f.ws, s)
				_, err = s.Write(payload[:1])
			}
			if err != nil {
				opened <- fmt.Errorf("open stream %d of %d: %w", len(f.ws)+1, k, err)
				return
			}
		}
		opened <- nil
	}()
	var err error
	for i := range k {
		var s stream
		if s, err = l.accept(ctx); err != nil {
			err = fmt.Errorf("accept stream %d of %d: %w", i+1, k, err)
			break
		}
		f.rs = append(f.rs, s)
		f.bufs[i] = make([]byte, bufSize)
		if err = hello(ctx, s, f.bufs[i]); err != nil {
			err = fmt.Errorf("hello on stream %d of %d: %w", i+1, k, err)
			break
		}
	}
	if err != nil {
		cancel()
		_ = l.Close() // so an open parked on the peer's stream limit returns
	}
	return f, errors.Join(err, <-opened)
}

// hello reads s's hello byte into buf, within ctx's deadline.
func hello(ctx context.Context, s stream, buf []byte) error {
	dl, _ := ctx.Deadline()
	if err := s.SetDeadline(dl); err != nil {
		return err
	}
	if _, err := io.ReadFull(s, buf[:1]); err != nil {
		return err
	}
	return s.SetDeadline(time.Time{})
}

// past is a deadline that has passed: setting it ends a Read or Write in
// flight at once.
var past = time.Unix(1, 0)

// move sends n bytes on every stream of f and returns once every byte has
// been read on the receiving side, or the run failed: then every stream's
// deadline is set in the past and l is closed, so every goroutine ends,
// and move returns the first error once they have (or once they have had
// bound to, in which case they are reported as stuck).
func move(l *link, f *flows, n int64) error {
	k := len(f.ws)
	var got atomic.Int64 // bytes received, on every stream
	done := make(chan error, 2*k)
	for i := range k {
		go func() { done <- send(f.ws[i], n) }()
		go func() { done <- receive(f.rs[i], f.bufs[i], n, &got) }()
	}
	tick := time.NewTicker(bound / 60)
	defer tick.Stop()
	var first error
	var aborted time.Time
	abort := func(err error) {
		first, aborted = err, time.Now()
		for i := range k {
			_ = f.ws[i].SetDeadline(past)
			_ = f.rs[i].SetDeadline(past)
		}
		_ = l.Close()
	}
	last, lastAt := int64(0), time.Now()
	for running := 2 * k; running > 0; {
		select {
		case err := <-done:
			running--
			if err != nil && first == nil {
				abort(err)
			}
		case now := <-tick.C:
			switch p := got.Load(); {
			case first != nil && now.Sub(aborted) >= bound:
				return fmt.Errorf("%w (and %d goroutines still stuck %v after the abort)", first, running, bound)
			case p != last:
				last, lastAt = p, now
			case first == nil && now.Sub(lastAt) >= bound:
				abort(fmt.Errorf("stalled: no byte arrived for %v, %d of %d received", bound, p, int64(k)*n))
			}
		}
	}
	return first
}

// send writes n bytes on s in writes of at most bufSize.
func send(s stream, n int64) error {
	for n > 0 {
		w, err := s.Write(payload[:min(n, bufSize)])
		n -= int64(w)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// receive reads n bytes from s into buf, discarding them and counting
// them into got; it never reads past the n-th byte (the next run's bytes
// stay in the stream).
func receive(s stream, buf []byte, n int64, got *atomic.Int64) error {
	want := n
	for n > 0 {
		r, err := s.Read(buf[:min(n, int64(len(buf)))])
		n -= int64(r)
		got.Add(int64(r))
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read after %d of %d bytes: %w", want-n, want, err)
		}
	}
	return nil
}
