package messages

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// msgConn carries whole messages between two endpoints, in order.
//
// Concurrency: one goroutine may call SendMessage while another calls
// ReceiveMessage; neither may be called from two goroutines at once. Close
// may be called at any time, more than once, and makes calls in flight
// return an error.
type msgConn interface {
	// SendMessage sends p as one message; p may be reused once it returns.
	SendMessage(ctx context.Context, p []byte) error
	// ReceiveMessage returns the next message. The slice is valid until
	// the next ReceiveMessage call (an adapter may reuse its buffer).
	ReceiveMessage(ctx context.Context) ([]byte, error)
	Close() error
}

// listener is a transport's listening endpoint on 127.0.0.1.
type listener interface {
	// accept returns the next incoming connection.
	accept(ctx context.Context) (msgConn, error)
	// Close stops listening and unblocks accept. Connections it accepted
	// may outlive it (TCP's do): their owner closes them.
	Close() error
}

// transport opens endpoints of one kind. dial is given a listener that
// the same transport's listen returned (it carries what a dial needs: the
// address, and for petrel the node's key); the connection it returns owns
// whatever the client side opened (a socket, a node) and closes it.
type transport interface {
	listen(ctx context.Context) (listener, error)
	dial(ctx context.Context, l listener) (msgConn, error)
}

// header is the part of every message the harness reads: its sequence
// number and its send time (ns since the run's start, monotonic).
const header = 16

// maxLatency bounds the histograms: a round trip above it is recorded as
// it (one minute).
const maxLatency = int64(time.Minute)

// newHistogram makes a histogram of round trips in nanoseconds, 3
// significant digits, up to maxLatency.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatency, 3)
}

// fill writes seq's payload after the header: byte i of message seq is
// byte(seq + i), so a misplaced or corrupted byte shows.
func fill(p []byte, seq uint64) {
	for i := header; i < len(p); i++ {
		p[i] = byte(seq + uint64(i))
	}
}

// exchange sends n messages of size bytes (size >= header) over c, at most
// window outstanding, and receives each one's echo in order, recording its
// round trip in the histogram it returns. verify also checks every payload
// byte (a test; the benchmark checks sequence number and size only). On an
// error exchange closes c, so the goroutine it started cannot block on a
// peer that stopped reading, and returns once that goroutine has ended.
func exchange(ctx context.Context, c msgConn, n, size, window int, verify bool) (*hdrhistogram.Histogram, error) {
	if size < header {
		return nil, fmt.Errorf("messages: size %d below the %d-byte header", size, header)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	slots := make(chan struct{}, window)
	sent := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		fill(buf, 0)
		for i := range n {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				sent <- ctx.Err()
				return
			}
			if verify {
				fill(buf, uint64(i))
			}
			binary.BigEndian.PutUint64(buf[0:], uint64(i))
			binary.BigEndian.PutUint64(buf[8:], uint64(time.Since(start)))
			if err := c.SendMessage(ctx, buf); err != nil {
				sent <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	h := newHistogram()
	err := receive(ctx, c, h, start, n, size, slots, verify)
	if err != nil {
		cancel()
		_ = c.Close()
	}
	if serr := <-sent; err == nil {
		err = serr
	}
	return h, err
}

// receive takes n echoes off c in order, releasing a window slot per echo.
func receive(ctx context.Context, c msgConn, h *hdrhistogram.Histogram, start time.Time, n, size int, slots <-chan struct{}, verify bool) error {
	want := make([]byte, size)
	for i := range n {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			return fmt.Errorf("receive %d: %w", i, err)
		}
		now := int64(time.Since(start))
		if len(m) != size {
			return fmt.Errorf("echo %d: %d bytes, want %d", i, len(m), size)
		}
		rtt := now - int64(binary.BigEndian.Uint64(m[8:]))
		if seq := binary.BigEndian.Uint64(m); seq != uint64(i) {
			return fmt.Errorf("echo %d: sequence number %d", i, seq)
		}
		if verify {
			fill(want, uint64(i))
			if string(m[header:]) != string(want[header:]) {
				return fmt.Errorf("echo %d: payload differs from what was sent", i)
			}
		}
		_ = h.RecordValue(min(max(rtt, 1), maxLatency))
		<-slots
	}
	return nil
}

// echoPair is a client connection to a listener and, on the listener's
// side, a goroutine that echoes every message back until the connection
// ends.
type echoPair struct {
	client msgConn
	l      listener
	cancel context.CancelFunc
	done   chan error // the echo goroutine's end

	mu  sync.Mutex
	srv msgConn // the accepted connection, once accepted
}

// startEcho listens with t, dials the listener and starts the echo side.
// The pair is closed with Close, whatever happens after it returns.
func startEcho(ctx context.Context, t transport) (*echoPair, error) {
	l, err := t.listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ectx, cancel := context.WithCancel(context.Background())
	p := &echoPair{l: l, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- p.echo(ectx) }()
	p.client, err = t.dial(ctx, l)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	return p, nil
}

func (p *echoPair) echo(ctx context.Context) error {
	c, err := p.l.accept(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.srv = c
	p.mu.Unlock()
	defer c.Close()
	for {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			return err
		}
		if err := c.SendMessage(ctx, m); err != nil {
			return err
		}
	}
}

// Close closes the client, the listener and the accepted connection, and
// waits for the echo goroutine to end.
func (p *echoPair) Close() error {
	var errs []error
	if p.client != nil {
		errs = append(errs, p.client.Close())
	}
	p.cancel()
	errs = append(errs, p.l.Close())
	p.mu.Lock()
	if p.srv != nil {
		_ = p.srv.Close() // the echo goroutine may already have closed it
	}
	p.mu.Unlock()
	<-p.done // ends with the connection's error: expected on close
	return errors.Join(errs...)
}
