package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/petrel-transport/petrel/core"
)

// The demo's messages: each carries its sequence number and send time in
// its first 16 bytes, then a fixed pattern; the receiver checks all three.

// stamp writes a message's header: sequence number and send time.
func stamp(msg []byte, seq uint64, at time.Time) {
	binary.BigEndian.PutUint64(msg[0:8], seq)
	binary.BigEndian.PutUint64(msg[8:16], uint64(at.UnixNano()))
}

// check verifies a received message against the pattern and the expected
// sequence number, and returns its send time.
func check(msg, pattern []byte, want uint64) (time.Time, error) {
	if len(msg) != len(pattern) {
		return time.Time{}, fmt.Errorf("message %d: %d bytes, want %d", want, len(msg), len(pattern))
	}
	if got := binary.BigEndian.Uint64(msg[0:8]); got != want {
		return time.Time{}, fmt.Errorf("message %d arrived as number %d: out of order or lost", want, got)
	}
	if !bytes.Equal(msg[16:], pattern[16:]) {
		return time.Time{}, fmt.Errorf("message %d corrupted", want)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(msg[8:16]))), nil
}

func newPattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// direction is one way's traffic of a phase: what arrived, on streams and
// in messages, and how late the messages were.
type direction struct {
	streamBytes atomic.Int64            // stream bytes checked on arrival
	bytes, msgs atomic.Int64            // messages checked on arrival, and their bytes
	latency     *hdrhistogram.Histogram // microseconds, send to receive
	err         error
}

// total is every byte that arrived, on streams and in messages.
func (d *direction) total() int64 { return d.streamBytes.Load() + d.bytes.Load() }

func newDirection() *direction {
	return &direction{latency: hdrhistogram.New(1, 60_000_000, 3)}
}

// receive reads messages on c until n messages, ctx's end or an error.
func (d *direction) receive(ctx context.Context, c *core.Conn, pattern []byte, n int64) {
	buf := make([]byte, 0, len(pattern))
	for seq := uint64(0); n < 0 || int64(seq) < n; seq++ {
		msg, err := c.ReceiveMessageInto(ctx, buf)
		if err != nil {
			if ctx.Err() == nil {
				d.err = err
			}
			return
		}
		sent, err := check(msg, pattern, seq)
		if err != nil {
			d.err = err
			return
		}
		_ = d.latency.RecordValue(max(time.Since(sent).Microseconds(), 1))
		d.bytes.Add(int64(len(msg)))
		d.msgs.Add(1)
		buf = msg
	}
}

// sendAll writes messages on c until n messages, ctx's end or an error.
func sendAll(ctx context.Context, c *core.Conn, pattern []byte, n int64) error {
	msg := append([]byte(nil), pattern...)
	for seq := uint64(0); n < 0 || int64(seq) < n; seq++ {
		stamp(msg, seq, time.Now())
		if err := c.SendMessage(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}
