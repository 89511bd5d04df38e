package netem

import "github.com/petrel-transport/petrel/internal/monotime"

// minBuf is the smallest buffer a Pipe allocates: a full Ethernet payload
// (1500 bytes, RFC 894) fits, so petrel's datagrams (1200 bytes by default)
// and the relay's all reuse one size of buffer.
const minBuf = 2048

// Pipe is one direction of an impaired link for []byte datagrams: a Link
// decides, a Queue holds the copies until due, and a free list recycles
// their buffers. Send copies the datagram in (once per copy) and flips the
// corrupt bit in the copy, so the caller's bytes are never touched.
//
// A Pipe allocates nothing in steady state: buffers come back through
// Release, and the free list holds at most as many as were ever pending at
// once. It is not safe for concurrent use.
type Pipe struct {
	link  *Link
	q     Queue[[]byte]
	fates []Fate   // scratch for Decide
	free  [][]byte // released buffers, length 0, LIFO
}

// NewPipe returns a Pipe impairing as cfg says, or an error wrapping
// ErrConfig.
func NewPipe(cfg Config) (*Pipe, error) {
	l, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Pipe{link: l, fates: make([]Fate, 0, 2)}, nil
}

// Link returns the Pipe's Link, for its Stats and Backlog.
func (p *Pipe) Link() *Link { return p.link }

// Len returns the number of copies pending.
func (p *Pipe) Len() int { return p.q.Len() }

// Send offers b to the link at now and returns how many copies will arrive
// (0 if it was dropped). b is only read during the call.
func (p *Pipe) Send(now monotime.Time, b []byte) int {
	p.fates = p.link.Decide(p.fates[:0], now, len(b))
	for _, f := range p.fates {
		c := append(p.get(len(b)), b...)
		FlipBit(c, f.Bit)
		p.q.Push(f.At, c)
	}
	return len(p.fates)
}

// Next returns when the next copy is due, for arming a timer; ok is false
// if none is pending.
func (p *Pipe) Next() (at monotime.Time, ok bool) { return p.q.Next() }

// Receive appends the copies due at or before now to dst, in arrival order
// (equal times in send order). The caller owns each buffer until it hands
// it back with Release.
func (p *Pipe) Receive(now monotime.Time, dst [][]byte) [][]byte {
	return p.q.PopDue(now, dst)
}

// Drain appends every pending copy to dst, due or not, in arrival order:
// for closing the link. The caller owns them as after Receive.
func (p *Pipe) Drain(dst [][]byte) [][]byte { return p.q.Drain(dst) }

// Release returns a buffer that Receive or Drain handed out, for reuse.
// The caller must not touch b afterwards.
func (p *Pipe) Release(b []byte) {
	if cap(b) > 0 {
		p.free = append(p.free, b[:0])
	}
}

// get returns an empty buffer with room for n bytes.
func (p *Pipe) get(n int) []byte {
	if k := len(p.free) - 1; k >= 0 && cap(p.free[k]) >= n {
		b := p.free[k]
		p.free[k] = nil
		p.free = p.free[:k]
		return b
	}
	return make([]byte, 0, max(n, minBuf))
}
