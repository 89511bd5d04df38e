package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// flowSet is one direction's streams in the lossy phase: the sender opens
// them and writes each without pause from a goroutine of its own; the
// receiver accepts them and checks every byte. A stream starts with its
// index among the sender's streams (8 bytes), then the pattern from an
// offset of its own (flowOffset), so that a byte delivered on the wrong
// stream shows. At the phase's end every stream's deadline passes, which
// ends its goroutines.
//
// Guard map: pat and dir are immutable; writers is written by start before
// the goroutines that read it run; readers are atomic; mu guards errs.
type flowSet struct {
	pat     []byte
	dir     *direction
	writers []*flowWriter                // by index
	readers []atomic.Pointer[flowReader] // by the sender's index, as the receiver accepts them

	mu   sync.Mutex
	errs []error // failures: neither the phase's end nor the demo's abort
}

// flowWriter is the sending end of one stream of a flowSet.
type flowWriter struct {
	st          *core.Stream
	parkedSince atomic.Int64 // unix nanoseconds when the writer entered Write; 0 while it is outside
	aborted     atomic.Bool  // set before the demo aborts the stream: its end is expected
}

// flowReader is the receiving end of one stream of a flowSet.
type flowReader struct {
	id    uint64       // the receiver's stream id
	n     atomic.Int64 // bytes checked
	ended error        // why the stream ended before the phase did; set before the reader's goroutine ends
}

// flowOffset is where stream index's bytes start in the pattern.
func flowOffset(index int) int64 { return int64(index) * 104729 } // a prime: the streams' bytes never line up

func newFlowSet(n int, pat []byte, dir *direction) *flowSet {
	return &flowSet{pat: pat, dir: dir, readers: make([]atomic.Pointer[flowReader], n)}
}

// start opens the streams from one end and accepts them at the other, on
// goroutines counted by wg, which end with ctx.
func (f *flowSet) start(ctx context.Context, wg *sync.WaitGroup, from, to *core.Conn) {
	for i := range f.readers {
		st, err := from.OpenStream(ctx)
		if err != nil {
			f.fail(ctx, fmt.Errorf("open stream %d: %w", i, err))
			break
		}
		w := &flowWriter{st: st}
		f.writers = append(f.writers, w)
		wg.Go(func() { f.write(ctx, w, i) })
	}
	wg.Go(func() {
		for range f.readers {
			st, err := to.AcceptStream(ctx)
			if err != nil {
				f.fail(ctx, fmt.Errorf("accept stream: %w", err))
				return
			}
			wg.Go(func() { f.read(ctx, st) })
		}
	})
}

// endWith makes st's Read and Write return once ctx ends.
func endWith(ctx context.Context, st *core.Stream) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = st.SetDeadline(time.Now()) })
}

func (f *flowSet) write(ctx context.Context, w *flowWriter, index int) {
	defer endWith(ctx, w.st)()
	buf := make([]byte, 16<<10)
	p := binary.BigEndian.AppendUint64(buf[:0], uint64(index))
	r := patternReader{pat: f.pat, off: flowOffset(index), limit: -1}
	for {
		w.parkedSince.Store(time.Now().UnixNano())
		_, err := w.st.Write(p)
		w.parkedSince.Store(0)
		if err != nil {
			if !w.aborted.Load() {
				f.fail(ctx, fmt.Errorf("write stream %d: %w", w.st.ID(), err))
			}
			return
		}
		n, _ := r.Read(buf)
		p = buf[:n]
	}
}

func (f *flowSet) read(ctx context.Context, st *core.Stream) {
	defer endWith(ctx, st)()
	var hdr [8]byte
	if _, err := io.ReadFull(st, hdr[:]); err != nil {
		// The demo's own abort (abortMidway) may come before the header
		// on a slow machine: the reader never learns which stream it was,
		// and that is the abort the demo expects, not a failure.
		var ae *core.StreamAbortError
		if !errors.As(err, &ae) || !ae.Remote || ae.Code != abortCode {
			f.fail(ctx, fmt.Errorf("stream %d: its header: %w", st.ID(), err))
		}
		return
	}
	index := binary.BigEndian.Uint64(hdr[:])
	r := &flowReader{id: st.ID()}
	if index >= uint64(len(f.readers)) || !f.readers[index].CompareAndSwap(nil, r) {
		f.fail(ctx, fmt.Errorf("stream %d: its header names stream %d, unknown or taken", st.ID(), index))
		return
	}
	chk := &patternChecker{pat: f.pat, off: flowOffset(int(index)), counters: []*atomic.Int64{&r.n, &f.dir.streamBytes}}
	_, err := io.Copy(chk, st) // the stream's WriteTo
	var mismatch *mismatchError
	switch {
	case errors.As(err, &mismatch):
		f.fail(context.Background(), fmt.Errorf("stream %d: %w", st.ID(), err)) // wrong bytes fail the demo even at the end
	case ctx.Err() == nil:
		r.ended = cmp.Or(err, io.EOF) // nil: the sender closed it (it never does)
	}
}

// fail records err unless ctx has ended (then the phase's deadline caused
// it).
func (f *flowSet) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

// reader returns the receiving end of stream index, nil if not accepted.
func (f *flowSet) reader(index int) *flowReader { return f.readers[index].Load() }

// others is what the streams other than index delivered so far.
func (f *flowSet) others(index int) int64 {
	n := f.dir.streamBytes.Load()
	if r := f.reader(index); r != nil {
		n -= r.n.Load()
	}
	return n
}

// err is the set's first failure, once its goroutines ended: a recorded
// one, or a stream that ended early without being aborted.
func (f *flowSet) err() error {
	if len(f.errs) > 0 {
		return f.errs[0]
	}
	for i := range f.readers {
		if r := f.reader(i); r != nil && r.ended != nil && !(i < len(f.writers) && f.writers[i].aborted.Load()) {
			return fmt.Errorf("stream %d ended early: %w", r.id, r.ended)
		}
	}
	return nil
}
