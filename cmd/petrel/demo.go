package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
	"github.com/petrel-transport/petrel/internal/relay"
)

// demoConfig is what `petrel demo` runs; every field has a flag.
type demoConfig struct {
	cleanBytes  byteSize
	cleanMsg    byteSize
	lossyMsg    byteSize
	loss        float64
	rtt         time.Duration
	duration    time.Duration
	driver      string
	plain       bool
	seed        uint64
	sampleEvery time.Duration
}

func demoFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	c := demoConfig{cleanBytes: 1 << 30, cleanMsg: 1 << 20, lossyMsg: 16 << 10, sampleEvery: 250 * time.Millisecond}
	fs.Var(&c.cleanBytes, "clean-bytes", "bytes moved in the clean phase (suffixes K, M, G: powers of 1024)")
	fs.Var(&c.cleanMsg, "clean-message", "message size in the clean phase (at most 1M, the default maximum message)")
	fs.Var(&c.lossyMsg, "lossy-message", "message size in the lossy phase")
	fs.Float64Var(&c.loss, "loss", 0.01, "random loss rate of the lossy link, each direction, in [0, 1)")
	fs.DurationVar(&c.rtt, "rtt", 20*time.Millisecond, "round-trip time of the lossy link (half of it each way)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of the lossy phase: at 1% loss and 20 ms a loss-based controller moves a few MB/s, so it is sized by time, not bytes")
	fs.StringVar(&c.driver, "driver", "gnet", "I/O driver: gnet (event loops) or poller (Go's runtime poller)")
	fs.BoolVar(&c.plain, "plain", false, "print a line per second instead of progress bars, even on a terminal")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the lossy link's impairments")
	return func(ctx context.Context, w io.Writer) error { return runDemo(ctx, w, c) }
}

// byteSize is a flag value in bytes with K/M/G suffixes.
type byteSize int64

func (b *byteSize) String() string { return size(int64(*b)) }

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	var n int64
	if _, err := fmt.Sscanf(t, "%d", &n); err != nil || n < 0 {
		return fmt.Errorf("%q is not a size (e.g. 512K, 64M, 1G)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

func (c *demoConfig) validate() error {
	switch {
	case c.cleanMsg < 16 || c.cleanMsg > session.DefaultMaxMessageSize:
		return fmt.Errorf("--clean-message %v outside [16 B, 1 MiB]", c.cleanMsg.String())
	case c.lossyMsg < 16 || c.lossyMsg > session.DefaultMaxMessageSize:
		return fmt.Errorf("--lossy-message %v outside [16 B, 1 MiB]", c.lossyMsg.String())
	case c.loss < 0 || c.loss >= 1:
		return fmt.Errorf("--loss %v outside [0, 1)", c.loss)
	case c.rtt < 0 || c.duration < 0:
		return errors.New("--rtt and --duration must not be negative")
	case c.driver != "gnet" && c.driver != "poller":
		return fmt.Errorf("--driver %q: gnet or poller", c.driver)
	}
	return nil
}

func runDemo(ctx context.Context, w io.Writer, c demoConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	cfg := core.Config{}
	if c.driver == "poller" {
		cfg.Transport.Driver = core.DriverPoller
	}
	a, err := core.Listen("127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := core.Listen("127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	exportNode(ctx, "A", a)
	exportNode(ctx, "B", b)
	fmt.Fprintf(w, "petrel demo: node A %v, node B %v (%s driver)\n\n", a.Addr(), b.Addr(), c.driver)

	prog := newProgress(w, c.plain)
	clean, err := cleanPhase(ctx, prog, a, b, c)
	if err != nil {
		prog.wait()
		return fmt.Errorf("clean phase: %w", err)
	}
	lossy, err := lossyPhase(ctx, prog, a, b, c)
	prog.wait()
	if err != nil {
		return fmt.Errorf("lossy phase: %w", err)
	}
	report(w, c, clean, lossy)
	return nil
}

// pair dials b from a (through via, if valid) and accepts on b.
func pair(ctx context.Context, a, b *core.Node, via netip.AddrPort) (*core.Conn, *core.Conn, error) {
	addr := b.Addr()
	if via.IsValid() {
		addr = via
	}
	type accepted struct {
		c   *core.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := b.Accept(ctx)
		ch <- accepted{c, err}
	}()
	ca, err := a.Dial(ctx, addr.String(), b.LocalKey())
	if err != nil {
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		ca.Close()
		return nil, nil, r.err
	}
	return ca, r.c, nil
}

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

// direction is one way's traffic of a phase: what arrived and how late.
type direction struct {
	bytes, msgs atomic.Int64
	latency     *hdrhistogram.Histogram // microseconds, send to receive
	err         error
}

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

// send writes messages on c until n messages, ctx's end or an error.
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

// sample is one point of the lossy phase's time series (A's side).
type sample struct {
	at       time.Duration
	cwnd     uint64
	inFlight uint64
	rtt      time.Duration
	abBytes  int64
}

// phaseResult is what the report prints of a phase.
type phaseResult struct {
	took           time.Duration
	ab, ba         *direction
	statsA, statsB session.Stats
	series         []sample
	relayFwd       relay.Stats
	relayRev       relay.Stats
}

func cleanPhase(ctx context.Context, prog *progress, a, b *core.Node, c demoConfig) (*phaseResult, error) {
	ca, cb, err := pair(ctx, a, b, netip.AddrPort{})
	if err != nil {
		return nil, err
	}
	defer ca.Close()
	defer cb.Close()
	n := (int64(c.cleanBytes) + int64(c.cleanMsg) - 1) / int64(c.cleanMsg)
	pattern := newPattern(int(c.cleanMsg), 1)
	res := &phaseResult{ab: newDirection()}
	total := n * int64(c.cleanMsg)
	start := time.Now()
	bar := prog.phase("clean", total, true, func() string {
		st := ca.Stats()
		el := time.Since(start).Seconds()
		return fmt.Sprintf("%7.1f MB/s  rtt %-8v cwnd %s", float64(res.ab.bytes.Load())/el/1e6, st.RTT.Round(10*time.Microsecond), size(int64(st.Cwnd)))
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res.ab.receive(ctx, cb, pattern, n)
	}()
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendAll(ctx, ca, pattern, n) }()
	tick := time.NewTicker(100 * time.Millisecond)
	received := make(chan struct{})
	go func() { wg.Wait(); close(received) }()
	for done := false; !done; {
		select {
		case <-tick.C:
			bar.set(res.ab.bytes.Load())
		case <-received:
			done = true
		}
	}
	tick.Stop()
	res.took = time.Since(start)
	bar.set(res.ab.bytes.Load())
	bar.finish()
	if err := <-sendErr; err != nil {
		return nil, err
	}
	if res.ab.err != nil {
		return nil, res.ab.err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res.statsA, res.statsB = ca.Stats(), cb.Stats()
	return res, nil
}

func lossyPhase(ctx context.Context, prog *progress, a, b *core.Node, c demoConfig) (*phaseResult, error) {
	link := netem.Config{Loss: c.loss, Delay: c.rtt / 2, Seed: c.seed}
	back := link
	back.Seed = c.seed + 1
	r, err := relay.New(relay.Config{Target: b.Addr(), Forward: link, Reverse: back})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ca, cb, err := pair(ctx, a, b, r.Addr())
	if err != nil {
		return nil, err
	}
	defer ca.Close()
	defer cb.Close()

	pctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	pattern := newPattern(int(c.lossyMsg), 2)
	res := &phaseResult{ab: newDirection(), ba: newDirection()}
	start := time.Now()
	bar := prog.phase("lossy", c.duration.Milliseconds(), false, func() string {
		st := ca.Stats()
		el := time.Since(start).Seconds()
		return fmt.Sprintf("A→B %5.2f MB/s  B→A %5.2f MB/s  rtt %-7v cwnd %-9s retx %d",
			float64(res.ab.bytes.Load())/el/1e6, float64(res.ba.bytes.Load())/el/1e6,
			st.RTT.Round(100*time.Microsecond), size(int64(st.Cwnd)), st.Retransmits)
	})
	var wg sync.WaitGroup
	var sendErrs [2]error
	wg.Add(4)
	go func() { defer wg.Done(); sendErrs[0] = sendAll(pctx, ca, pattern, -1) }()
	go func() { defer wg.Done(); sendErrs[1] = sendAll(pctx, cb, pattern, -1) }()
	go func() { defer wg.Done(); res.ab.receive(pctx, cb, pattern, -1) }()
	go func() { defer wg.Done(); res.ba.receive(pctx, ca, pattern, -1) }()
	tick := time.NewTicker(c.sampleEvery)
	for done := false; !done; {
		select {
		case <-tick.C:
			el := time.Since(start)
			st := ca.Stats()
			res.series = append(res.series, sample{at: el, cwnd: st.Cwnd, inFlight: st.InFlight, rtt: st.RTT, abBytes: res.ab.bytes.Load()})
			bar.set(min(el.Milliseconds(), c.duration.Milliseconds()))
		case <-pctx.Done():
			done = true
		}
	}
	tick.Stop()
	res.took = time.Since(start)
	wg.Wait()
	bar.set(c.duration.Milliseconds())
	bar.finish()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, err := range append(sendErrs[:], res.ab.err, res.ba.err) {
		if err != nil {
			return nil, err
		}
	}
	res.statsA, res.statsB = ca.Stats(), cb.Stats()
	res.relayFwd, res.relayRev = r.Stats()
	return res, nil
}
