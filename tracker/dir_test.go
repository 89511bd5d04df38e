package tracker

import "testing"

// TestDirectoryFollowsWindow: a long-lived connection slides its window of
// packets in flight through many chunks. Freed chunks must leave the
// directory, so the directory (and the span of chunk numbers it covers)
// stays sized to the packets in flight, not to the connection's history,
// and the chunks beyond the pool are left to the GC rather than kept
// reachable from stale directory slots.
func TestDirectoryFollowsWindow(t *testing.T) {
	r := newRig(t, Config{})
	const window = 2 * chunkSize // packets in flight: 2-3 chunks
	for pn := range uint64(64 * chunkSize) {
		r.send(t, pn, StreamID(pn%5), 10, ms)
		if pn >= window {
			r.ack(t, 2*ms, rng(pn-window, pn-window))
		}
	}
	d := r.t.pns.dir.Load()
	if len(d.slots) > minDirSize {
		t.Errorf("directory of %d slots for a window of %d packets", len(d.slots), window)
	}
	if lo, hi := r.t.pns.lo.Load(), r.t.pns.hi.Load(); hi-lo > window/chunkSize+1 {
		t.Errorf("chunk span [%d, %d] for a window of %d packets", lo, hi, window)
	}
	reachable := 0
	for i := range d.slots {
		if d.slots[i].Load() != nil {
			reachable++
		}
	}
	if st := r.t.Stats(); int64(reachable) != st.Chunks {
		t.Errorf("%d chunks reachable from the directory, %d live", reachable, st.Chunks)
	}
	r.checkBooks(t)
}

// TestTryRef: a chunk whose last reference is gone is being freed (or is
// in the pool); nothing may take a reference on it and resurrect it.
func TestTryRef(t *testing.T) {
	tests := []struct {
		name string
		refs int64
		ok   bool
	}{
		{"dead", 0, false},
		{"one slot", 1, true},
		{"pinned only", 1 << 32, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := new(chunk)
			c.refs.Store(tc.refs)
			want := tc.refs
			if tc.ok {
				want++
			}
			if ok := c.tryRef(); ok != tc.ok || c.refs.Load() != want {
				t.Fatalf("tryRef on refs=%d: %v, refs now %d; want %v, %d", tc.refs, ok, c.refs.Load(), tc.ok, want)
			}
		})
	}
}
