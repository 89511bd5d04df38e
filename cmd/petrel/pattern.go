package main

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
)

// patternPeriod is the period of the demo streams' bytes: a prime
// (2^20 - 3), so that no packet, chunk or buffer size divides it and a range
// delivered at the wrong offset, or twice, does not match.
const patternPeriod = 1<<20 - 3

// patternReader reads the pattern (patternPeriod bytes) repeated, from
// offset off, up to limit bytes in all (limit < 0: endlessly).
type patternReader struct {
	pat   []byte
	off   int64
	limit int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.limit >= 0 {
		if r.off >= r.limit {
			return 0, io.EOF
		}
		p = p[:min(int64(len(p)), r.limit-r.off)]
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.pat[r.off%int64(len(r.pat)):])
		n += k
		r.off += int64(k)
	}
	return n, nil
}

// patternChecker is the reading end of a patternReader: it checks every
// byte written to it against the pattern at its offset, adds the count to
// each counter, and reports it to the bar (which may be nil).
type patternChecker struct {
	pat      []byte
	off      int64
	counters []*atomic.Int64
	bar      *phaseBar
}

func (c *patternChecker) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		i := int(c.off % int64(len(c.pat)))
		k := min(len(p)-done, len(c.pat)-i)
		if !bytes.Equal(p[done:done+k], c.pat[i:i+k]) {
			at := 0
			for p[done+at] == c.pat[i+at] {
				at++
			}
			return done, &mismatchError{off: c.off + int64(at)}
		}
		done += k
		c.off += int64(k)
	}
	for _, n := range c.counters {
		n.Add(int64(len(p)))
	}
	if c.bar != nil {
		c.bar.set(c.off)
	}
	return len(p), nil
}

// mismatchError reports a byte that arrived different from the byte sent.
type mismatchError struct{ off int64 }

func (e *mismatchError) Error() string {
	return fmt.Sprintf("byte %d of the stream differs from the byte sent", e.off)
}
