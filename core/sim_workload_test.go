package core_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// The workload and its checks. A stream starts with a 16-byte header (its
// event id, its length); its bytes are pattern(id, offset), so the reader
// checks every byte it gets against the offset it gets it at: a byte lost,
// repeated, reordered or altered shows as a mismatch, and io.EOF before the
// length is a stream reported whole that was not. A message carries (id,
// seq, length) and pattern(id<<32|seq) bytes; the receiver expects seq
// 0, 1, 2, ... of each id: a gap, a repeat or a reordering is a violation.

const simHeader = 16

// fillPattern writes the bytes of stream key from offset off into p.
func fillPattern(p []byte, key uint64, off int) {
	for i := range p {
		o := uint64(off + i)
		w := splitmix(key ^ splitmix(o>>3))
		p[i] = byte(w >> (8 * (o & 7)))
	}
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// opContext bounds one workload event: long enough to ride out the
// faults (a crash of the peer costs an idle timeout), bounded so the run
// ends.
func (w *simWorld) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.ctx, 40*time.Second)
}

// dial connects node i to node j at j's current address.
func (w *simWorld) dial(ctx context.Context, i, j int) (*core.Conn, error) {
	n := w.nodes[i].current()
	if n == nil {
		return nil, errNodeDown
	}
	c, err := n.Dial(ctx, w.nodes[j].publicAddr().String(), w.nodes[j].key)
	if err != nil {
		return nil, err
	}
	w.track(c)
	return c, nil
}

var errNodeDown = errors.New("sim: node is down")

// opFailed counts a workload event that ended early and keeps its error.
func (w *simWorld) opFailed(e simEvent, err error) {
	w.stats.opsFailed.Add(1)
	w.mu.Lock()
	w.opErr[e.id] = err
	w.mu.Unlock()
}

// runStream writes event e's stream from e.a to e.b.
func (w *simWorld) runStream(e simEvent) {
	defer w.ops.Done()
	ctx, cancel := w.opContext()
	defer cancel()
	c, err := w.dial(ctx, e.a, e.b)
	if err != nil {
		w.opFailed(e, fmt.Errorf("dial: %w", err))
		return
	}
	st, err := c.OpenStream(ctx)
	if err != nil {
		w.opFailed(e, fmt.Errorf("open: %w", err))
		return
	}
	buf := make([]byte, max(e.chunk, simHeader))
	binary.LittleEndian.PutUint64(buf[0:], e.id)
	binary.LittleEndian.PutUint64(buf[8:], uint64(e.size))
	if _, err := st.WriteContext(ctx, buf[:simHeader]); err != nil {
		_ = st.Abort(1)
		w.opFailed(e, fmt.Errorf("write header: %w", err))
		return
	}
	for off := 0; off < e.size; {
		if e.abortAt >= 0 && off >= e.abortAt {
			_ = st.Abort(7)
			w.stats.streamsAborted.Add(1)
			return
		}
		n := min(e.chunk, e.size-off)
		if e.abortAt >= 0 {
			n = min(n, max(e.abortAt-off, 1))
		}
		fillPattern(buf[:n], e.id, off)
		wn, err := st.WriteContext(ctx, buf[:n])
		off += wn
		w.stats.bytesWritten.Add(int64(wn))
		if err != nil {
			_ = st.Abort(1)
			w.opFailed(e, fmt.Errorf("write at %d: %w", off, err))
			return
		}
	}
	_ = st.Close()
	w.stats.streamsWritten.Add(1)
	w.sent(e, c)
}

// sent records that every byte or message of e was handed to c: if c is
// still alive at quiescence, all of it must have arrived.
func (w *simWorld) sent(e simEvent, c *core.Conn) {
	w.mu.Lock()
	w.sentOn[e.id] = c
	w.mu.Unlock()
}

// readStream reads one stream a peer opened and checks every byte.
func (w *simWorld) readStream(st *core.Stream) {
	defer w.bg.Done()
	defer st.Close()
	hdr := make([]byte, simHeader)
	if _, err := io.ReadFull(st, hdr); err != nil {
		return // aborted or cut before its header: nothing delivered
	}
	id := binary.LittleEndian.Uint64(hdr)
	total := int(binary.LittleEndian.Uint64(hdr[8:]))
	e, ok := w.byID[id]
	if !ok || e.kind != evStream || total != e.size {
		w.violate("stream header (id %d, %d bytes) names no stream of the plan", id, total)
		return
	}
	w.mu.Lock()
	w.started[id] = true
	w.mu.Unlock()
	buf := make([]byte, 8192)
	want := make([]byte, 8192)
	off := 0
	for {
		n, err := st.Read(buf)
		if n > 0 {
			if off+n > total {
				w.violate("stream #%d: %d bytes read, more than its %d", id, off+n, total)
				return
			}
			if e.abortAt >= 0 && off+n > e.abortAt {
				w.violate("stream #%d: %d bytes read, its writer aborted after %d", id, off+n, e.abortAt)
				return
			}
			fillPattern(want[:n], id, off)
			if !bytes.Equal(buf[:n], want[:n]) {
				i := 0
				for buf[i] == want[i] {
					i++
				}
				w.violate("stream #%d: byte %d is %#x, written %#x", id, off+i, buf[i], want[i])
				return
			}
			off += n
			w.stats.bytesRead.Add(int64(n))
		}
		if err == io.EOF {
			if off != total {
				w.violate("stream #%d: io.EOF after %d of %d bytes", id, off, total)
			} else if e.abortAt >= 0 {
				w.violate("stream #%d: delivered whole (%d bytes) though its writer aborted at %d", id, off, e.abortAt)
			} else {
				w.stats.streamsDelivered.Add(1)
				w.mu.Lock()
				w.delivered[id] = true
				w.mu.Unlock()
			}
			return
		}
		if err != nil {
			w.mu.Lock()
			w.readErr[id] = fmt.Errorf("after %d bytes: %w", off, err)
			w.mu.Unlock()
			return
		}
	}
}

// runMessages sends event e's messages from e.a to e.b.
func (w *simWorld) runMessages(e simEvent) {
	defer w.ops.Done()
	ctx, cancel := w.opContext()
	defer cancel()
	c, err := w.dial(ctx, e.a, e.b)
	if err != nil {
		w.opFailed(e, fmt.Errorf("dial: %w", err))
		return
	}
	for seq := range e.count {
		size := 1 + int(splitmix(e.id<<32|uint64(seq))%uint64(e.maxSize))
		m := make([]byte, simHeader+size)
		binary.LittleEndian.PutUint64(m, e.id)
		binary.LittleEndian.PutUint32(m[8:], uint32(seq))
		binary.LittleEndian.PutUint32(m[12:], uint32(size))
		fillPattern(m[simHeader:], e.id<<32|uint64(seq), 0)
		if err := c.SendMessage(ctx, m); err != nil {
			w.opFailed(e, fmt.Errorf("message %d: %w", seq, err))
			return
		}
		w.stats.messagesSent.Add(1)
	}
	w.sent(e, c)
}

// checkMessage checks one received message against the plan and the
// messages of its id received before it.
func (w *simWorld) checkMessage(m []byte) {
	if len(m) < simHeader {
		w.violate("a message of %d bytes, shorter than its header", len(m))
		return
	}
	id := binary.LittleEndian.Uint64(m)
	seq := binary.LittleEndian.Uint32(m[8:])
	size := int(binary.LittleEndian.Uint32(m[12:]))
	if e, ok := w.byID[id]; !ok || e.kind != evMessages || int(seq) >= e.count {
		w.violate("message (id %d, seq %d) names no message of the plan", id, seq)
		return
	}
	want := make([]byte, size)
	fillPattern(want, id<<32|uint64(seq), 0)
	if len(m) != simHeader+size || !bytes.Equal(m[simHeader:], want) {
		w.violate("message #%d/%d: %d bytes differ from the %d written", id, seq, len(m)-simHeader, size)
		return
	}
	w.mu.Lock()
	next := w.msgNext[id]
	w.msgNext[id] = next + 1
	w.mu.Unlock()
	if seq != next {
		w.violate("message #%d: seq %d arrived where %d was due (lost, repeated or reordered)", id, seq, next)
		return
	}
	w.stats.messagesRecv.Add(1)
}
