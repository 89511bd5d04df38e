package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/petrel-transport/petrel/internal/netem"
	"github.com/petrel-transport/petrel/internal/relay"
)

const relayHelp = `relay forwards UDP datagrams between its clients and one target (--to)
through petrel's impairment model: random loss and a one-way delay in each
direction, seeded. It opens one socket towards the target per client, as a
NAT does, so a client whose address changes reaches the target from a new
port. It prints its address (an addr line, as serve does) and runs until
SIGINT or SIGTERM, then prints what it forwarded and dropped.

This kernel-independent WAN is what the demo runs on loopback; between
hosts or network namespaces it stands where a router would (Linux's netem
qdisc adds the same impairments where the kernel has it).

Example, a lossy path to a petrel serve on 10.2.0.2:4242:

  $ petrel relay --listen 10.1.0.1:4000 --to 10.2.0.2:4242 --loss 0.01 --delay 10ms
  addr 10.1.0.1:4000
  $ petrel send --to 10.1.0.1:4000 --key 5c0f3e... ./photo.jpg
`

// relayConfig is what `petrel relay` runs; every field has a flag.
type relayConfig struct {
	listen, to string
	loss       float64
	delay      time.Duration
	seed       uint64
}

func relayFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	var c relayConfig
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "UDP address clients send to; port 0 picks a free port (relay prints the one it got)")
	fs.StringVar(&c.to, "to", "", "the target's address, IP:PORT, where clients' datagrams go. Required")
	fs.Float64Var(&c.loss, "loss", 0, "probability that a datagram is lost, in each direction independently (0.01: 1%)")
	fs.DurationVar(&c.delay, "delay", 0, "one-way delay added in each direction (the round trip gains twice this)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the impairment model's draws: the same seed drops the same datagrams")
	return func(ctx context.Context, w io.Writer) error { return runRelay(ctx, w, c) }
}

func runRelay(ctx context.Context, w io.Writer, c relayConfig) error {
	if c.to == "" {
		return errors.New("--to is required: the target's IP:PORT")
	}
	to, err := netip.ParseAddrPort(c.to)
	if err != nil {
		return fmt.Errorf("--to %q: %v", c.to, err)
	}
	if c.loss < 0 || c.loss > 1 {
		return fmt.Errorf("--loss %v is not a probability from 0 to 1", c.loss)
	}
	if c.delay < 0 || c.delay > netem.MaxDelay {
		return fmt.Errorf("--delay %v is not from 0 to %v", c.delay, netem.MaxDelay)
	}
	fwd := netem.Config{Loss: c.loss, Delay: c.delay, Seed: c.seed}
	rev := fwd
	rev.Seed = c.seed + 1
	r, err := relay.New(relay.Config{Listen: c.listen, Target: netip.AddrPortFrom(to.Addr().Unmap(), to.Port()), Forward: fwd, Reverse: rev})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "addr %v\n", r.Addr())
	slog.Info("relaying", "to", to, "loss", c.loss, "delay", c.delay)
	<-ctx.Done()
	f, b := r.Stats()
	err = r.Close()
	for _, d := range []struct {
		name string
		s    relay.Stats
	}{{"forward", f}, {"reverse", b}} {
		fmt.Fprintf(w, "%s received=%d sent=%d lost=%d queue_drops=%d failed=%d\n",
			d.name, d.s.Received, d.s.Sent, d.s.Link.DroppedLoss+d.s.Link.DroppedBurst, d.s.Link.DroppedQueue, d.s.Failed)
	}
	return err
}
