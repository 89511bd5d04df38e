package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
)

const demoHelp = `demo runs two nodes, A and B, on loopback in this process:

  clean phase   A sends --clean-bytes to B on one stream, at full speed.
  lossy phase   through a relay that drops --loss of the datagrams each way and
                delays them by half of --rtt, for --duration: --streams streams
                each way and messages both ways. Midway A aborts one of its
                streams while its writer waits for the window, and the report
                shows that the other streams' flight went on.

Every byte is checked on arrival. A report follows: goodput, retransmissions,
RTT, message latency percentiles, the abort, and the window over time.

Example: petrel demo --clean-bytes 256M --duration 10s --loss 0.02
`

// demoConfig is what `petrel demo` runs; every field has a flag.
type demoConfig struct {
	nodeFlags
	cleanBytes  byteSize
	lossyMsg    byteSize
	streams     int
	loss        float64
	rtt         time.Duration
	duration    time.Duration
	plain       bool
	seed        uint64
	sampleEvery time.Duration
}

func demoFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	c := demoConfig{cleanBytes: 1 << 30, lossyMsg: 16 << 10, streams: 4, sampleEvery: 250 * time.Millisecond}
	fs.Var(&c.cleanBytes, "clean-bytes", "bytes moved on one stream in the clean phase (suffixes K, M, G: powers of 1024)")
	fs.Var(&c.lossyMsg, "lossy-message", "message size in the lossy phase (at most 1M, the default maximum message)")
	fs.IntVar(&c.streams, "streams", 4, "streams each way in the lossy phase (at least 2: one of A's is aborted midway)")
	fs.Float64Var(&c.loss, "loss", 0.01, "random loss rate of the lossy link, each direction, in [0, 1)")
	fs.DurationVar(&c.rtt, "rtt", 20*time.Millisecond, "round-trip time of the lossy link (half of it each way)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of the lossy phase: at 1% loss and 20 ms a loss-based controller moves a few MB/s, so it is sized by time, not bytes")
	c.register(fs)
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
	case c.lossyMsg < 16 || c.lossyMsg > session.DefaultMaxMessageSize:
		return fmt.Errorf("--lossy-message %v outside [16 B, 1 MiB]", c.lossyMsg.String())
	case c.loss < 0 || c.loss >= 1:
		return fmt.Errorf("--loss %v outside [0, 1)", c.loss)
	case c.rtt < 0 || c.duration < 0:
		return errors.New("--rtt and --duration must not be negative")
	case c.streams < 2:
		return fmt.Errorf("--streams %d: at least 2 (one is aborted midway, the others go on)", c.streams)
	}
	return nil
}

func runDemo(ctx context.Context, w io.Writer, c demoConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	cfg, err := c.config()
	if err != nil {
		return err
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
