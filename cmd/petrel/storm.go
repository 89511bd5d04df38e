package main

// `petrel storm`: hostile traffic at one's own node, to see that it keeps
// working. The pipeline:
//
//	capture: a petrel node of the storm's own dials the target through a
//	         UDP proxy of the storm's (stormProxy) and sends a few
//	         messages; the proxy keeps a copy of every datagram both ways
//	storm:   one goroutine builds datagrams of every kind (stormKinds) and
//	         sends them from --sources sockets, at --rate datagrams per
//	         second, until --duration or --count
//	dials:   meanwhile, --dials fresh nodes (new keys) each complete a
//	         handshake with the target and exchange a message
//	report:  one line of counts per kind and the dials' outcomes
//
// It only sends to the address given with --at, and refuses one outside
// loopback unless --allow-remote says the operator owns that node.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core"
)

const stormHelp = `storm tests a petrel node that YOU run: it sends the node at --at hostile
traffic, bounded by --duration and --count, at --rate datagrams per second,
and reports what it sent, kind by kind:

  random      random bytes of random size
  truncated   a prefix of a real packet
  oversized   a real packet followed by junk, up to 65507 bytes
  unknown-cid a well-formed packet header naming no connection
  replay      a real packet sent again (from another address)
  reflect     a packet the node sent, sent back to it
  bitflip     a real packet with one bit of its ciphertext flipped
  hs-forged   a handshake initiation of random contents
  hs-replay   a real initiation sent again from many addresses
  hs-fresh    valid initiations from throwaway keys, never completed

The real packets come from a short session of the storm's own with the node
(through a local UDP proxy that keeps a copy of each). Sources are
--sources sockets; on loopback each is bound to its own 127.x.y.z address.
Meanwhile --dials new nodes with fresh keys dial the node: they must still
get through (the retry cookie at work). Compare the node's drop counters
(petrel serve --metrics) with the report.

Only use it on nodes you operate: it sends to the --at address and to no
other, and refuses an address outside loopback without --allow-remote.

Example:

  terminal 1$ petrel serve --metrics 127.0.0.1:9100
  key 5c0f3e...
  addr 127.0.0.1:41234
  terminal 2$ petrel storm --at 127.0.0.1:41234 --key 5c0f3e... --duration 10s
`

// stormConfig is what `petrel storm` runs; every field has a flag.
type stormConfig struct {
	nodeFlags
	at, key     string
	duration    time.Duration
	count       int
	rate        int
	sources     int
	dials       int
	freshRate   int
	seed        uint64
	allowRemote bool
}

func stormFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	var c stormConfig
	fs.StringVar(&c.at, "at", "", "the address of the node under test, HOST:PORT (the addr line of petrel serve). Required")
	fs.StringVar(&c.key, "key", "", "the node's public key, 64 hex digits (the key line of petrel serve). Required")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "stop sending after this long")
	fs.IntVar(&c.count, "count", 1_000_000, "stop sending after this many datagrams")
	fs.IntVar(&c.rate, "rate", 20_000, "datagrams per second")
	fs.IntVar(&c.sources, "sources", 64, "source sockets (each on its own 127.x.y.z address on loopback)")
	fs.IntVar(&c.dials, "dials", 5, "legitimate dials from fresh keys spread over the storm")
	fs.IntVar(&c.freshRate, "fresh-rate", 200, "valid initiations from throwaway keys per second (each costs the storm a Noise handshake's key agreement)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the datagrams' choices and contents")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow an --at address outside loopback: only for a node you operate")
	c.register(fs)
	return func(ctx context.Context, w io.Writer) error { return runStorm(ctx, w, c) }
}

// stormReport is what a storm did.
type stormReport struct {
	sent                 [numKinds]uint64
	dialsOK, dialsFailed int
	captured             [2]int // datagrams captured to and from the node
	stormed              time.Duration
	captureAlive         bool // the attacked session survived the storm
}

// line is the machine-readable summary: key=value fields.
func (r *stormReport) line() string {
	var b strings.Builder
	b.WriteString("storm")
	var total uint64
	for k := range numKinds {
		fmt.Fprintf(&b, " sent.%s=%d", stormKind(k), r.sent[k])
		total += r.sent[k]
	}
	alive := 0
	if r.captureAlive {
		alive = 1
	}
	fmt.Fprintf(&b, " sent.total=%d dials.ok=%d dials.failed=%d captured.out=%d captured.in=%d capture.alive=%d seconds=%.2f",
		total, r.dialsOK, r.dialsFailed, r.captured[0], r.captured[1], alive, r.stormed.Seconds())
	return b.String()
}

func runStorm(ctx context.Context, w io.Writer, c stormConfig) error {
	if c.duration <= 0 || c.count <= 0 || c.rate <= 0 || c.sources <= 0 || c.dials < 0 || c.freshRate < 0 {
		return errors.New("--duration, --count, --rate and --sources must be positive, --dials and --fresh-rate not negative")
	}
	if _, err := c.config(); err != nil {
		return err
	}
	if c.at == "" {
		return errors.New("--at is required: the address of the node under test, the addr line `petrel serve` prints")
	}
	key, err := parsePeerKey(c.key)
	if err != nil {
		return err
	}
	at, err := resolvePeer(ctx, c.at)
	if err != nil {
		return fmt.Errorf("--at: %w", err)
	}
	if !at.Addr().IsLoopback() && !c.allowRemote {
		return fmt.Errorf("--at %v is not a loopback address: storm only a node you operate, and say so with --allow-remote", at)
	}
	var rep stormReport
	cp, err := captureSession(ctx, c, at, key)
	if err != nil {
		return fmt.Errorf("capturing a session: %w", err)
	}
	defer cp.close()
	out, in := cp.snapshot()
	rep.captured = [2]int{len(out), len(in)}
	socks, err := stormSources(at, c.sources)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range socks {
			s.Close()
		}
	}()
	g, err := newGenerator(c, key, cp)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "storming %v for %v (at most %d datagrams, %d/s) from %d sources\n", at, c.duration, c.count, c.rate, len(socks))

	sctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	wg.Go(func() {
		for i := range c.dials {
			// Spread the dials over the storm: dial i starts at
			// (i+1)/(dials+1) of it.
			due := time.Duration(int64(c.duration) * int64(i+1) / int64(c.dials+1))
			t := time.NewTimer(due - time.Since(g.start))
			select {
			case <-t.C:
			case <-sctx.Done():
				t.Stop()
				return
			}
			if err := legitDial(ctx, c, key); err != nil {
				failed.Add(1)
				slog.Warn("legitimate dial during the storm failed", "err", err)
			} else {
				ok.Add(1)
			}
		}
	})
	rep.sent = g.run(sctx, socks, at)
	rep.stormed = time.Since(g.start)
	rep.captureAlive = cp.conn.IsAlive()
	cancel()
	wg.Wait()
	rep.dialsOK, rep.dialsFailed = int(ok.Load()), int(failed.Load())
	fmt.Fprintln(w, rep.line())
	return ctx.Err()
}

// legitDial is one honest peer: a node with a fresh key that dials the
// target and exchanges a message.
func legitDial(ctx context.Context, c stormConfig, key core.PeerKey) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	n, err := core.Listen("127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := n.Dial(dctx, c.at, key)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.SendMessage(dctx, []byte("petrel storm: a legitimate peer"))
}

// stormSources opens n UDP sockets to send from: on loopback each on an
// address of its own in 127.0.0.0/8 (chosen from the socket's index, so
// runs are alike), elsewhere on the unspecified address.
func stormSources(at netip.AddrPort, n int) ([]*net.UDPConn, error) {
	socks := make([]*net.UDPConn, 0, n)
	for i := range n {
		ip := netip.IPv4Unspecified()
		if at.Addr().Is6() && !at.Addr().Is4In6() {
			ip = netip.IPv6Unspecified()
		}
		if at.Addr().IsLoopback() && at.Addr().Unmap().Is4() {
			ip = netip.AddrFrom4([4]byte{127, byte(1 + i/65536%254), byte(i / 256 % 256), byte(1 + i%254)})
		}
		s, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			for _, s := range socks {
				s.Close()
			}
			return nil, fmt.Errorf("source socket %d on %v: %w", i, ip, err)
		}
		socks = append(socks, s)
	}
	return socks, nil
}

// newRand returns the storm's generator from its seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5707)) }
