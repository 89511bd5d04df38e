package messages

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// maxFramed bounds one length-prefixed message (a corrupt length must not
// make the reader allocate gigabytes).
const maxFramed = 1 << 20

// framed carries messages over a byte stream (a TCP connection, a QUIC
// stream) as a 4-byte big-endian length then the bytes; every message is
// flushed as it is sent. ctx is not consulted once a call has started:
// Close is what unblocks a call in flight.
type framed struct {
	w   *bufio.Writer // SendMessage's side
	r   *bufio.Reader // ReceiveMessage's side
	buf []byte        // ReceiveMessage's buffer, reused per message

	closeOnce sync.Once
	closeErr  error
	close     func() error
}

var _ msgConn = (*framed)(nil)

// newFramed frames messages over rw; close ends the stream (and whatever
// owns it) and is called once, by Close.
func newFramed(rw io.ReadWriter, close func() error) *framed {
	return &framed{
		w:     bufio.NewWriterSize(rw, 64<<10),
		r:     bufio.NewReaderSize(rw, 64<<10),
		close: close,
	}
}

// SendMessage writes p's length and p, and flushes.
func (f *framed) SendMessage(_ context.Context, p []byte) error {
	if len(p) > maxFramed {
		return fmt.Errorf("messages: %d-byte message above %d", len(p), maxFramed)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
	if _, err := f.w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := f.w.Write(p); err != nil {
		return err
	}
	return f.w.Flush()
}

// ReceiveMessage reads the next message into the connection's buffer: the
// slice is valid until the next call.
func (f *framed) ReceiveMessage(context.Context) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFramed {
		return nil, fmt.Errorf("messages: peer announced a %d-byte message, above %d", n, maxFramed)
	}
	if cap(f.buf) < int(n) {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, err
	}
	return f.buf, nil
}

// Close closes the stream once; later calls return the first result.
func (f *framed) Close() error {
	f.closeOnce.Do(func() { f.closeErr = f.close() })
	return f.closeErr
}
