package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
)

const sendHelp = `send dials the node at --to, which must prove it holds --key (the addr
and key lines ` + "`petrel serve`" + ` printed), opens one stream, copies FILE into
it (standard input for - or no FILE), then waits for the receiver's
receipt: the count and SHA-256 of the bytes it stored. It exits with status
0 only when both match what was sent.

On a terminal it shows a bar with throughput and ETA when the size is known,
otherwise a line per second; then a summary line: bytes, time, MB/s and
retransmissions.

Example, with ` + "`petrel serve`" + ` running in another terminal:

  $ petrel serve --out /tmp/inbox
  key 5c0f3e...
  addr 127.0.0.1:41234

  $ petrel send --to 127.0.0.1:41234 --key 5c0f3e... ./photo.jpg
  $ tar c ./photos | petrel send --to 192.0.2.7:4242 --key 5c0f3e... -
`

// sendConfig is what `petrel send` runs; every field has a flag.
type sendConfig struct {
	nodeFlags
	to, key     string
	dialTimeout time.Duration
	plain       bool
	// persistent: the receiver is a persistent peer of the sender's node,
	// whose supervisor reconnects when the connection ends; a transfer
	// that fails with the connection starts again from the file's first
	// byte on the next one, for up to reconnectFor.
	persistent   bool
	reconnectFor time.Duration
}

func sendFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	var c sendConfig
	fs.StringVar(&c.to, "to", "", "the receiver's address, HOST:PORT: the addr line that petrel serve printed. Required")
	fs.StringVar(&c.key, "key", "", "the receiver's public key, 64 hex digits: the key line that petrel serve printed. Required")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", core.DefaultDialTimeout, "give up when the receiver has not answered the handshake within this time")
	fs.BoolVar(&c.plain, "plain", false, "print a line per second instead of a progress bar, even on a terminal")
	fs.BoolVar(&c.persistent, "persistent", false, "keep the receiver as a persistent peer: when the connection ends (the receiver restarts,\nthe path fails) the node's supervisor reconnects with backoff and the file is sent again,\nwhole, on the new connection. Needs a FILE (standard input cannot be read twice)")
	fs.DurationVar(&c.reconnectFor, "reconnect-for", 2*time.Minute, "with --persistent: give up when no connection came up for this long")
	c.register(fs)
	return func(ctx context.Context, w io.Writer) error { return runSend(ctx, w, c, fs.Args()) }
}

func runSend(ctx context.Context, w io.Writer, c sendConfig, args []string) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if c.dialTimeout <= 0 {
		return fmt.Errorf("--dial-timeout %v is not positive", c.dialTimeout)
	}
	cfg.DialTimeout = c.dialTimeout
	key, err := parsePeerKey(c.key)
	if err != nil {
		return err
	}
	to, err := resolvePeer(ctx, c.to)
	if err != nil {
		return err
	}
	src, err := openSource(args)
	if err != nil {
		return err
	}
	defer src.close()

	var conns chan *core.Conn
	if c.persistent {
		if err := src.rewindable(); err != nil {
			return err
		}
		if c.reconnectFor <= 0 {
			return fmt.Errorf("--reconnect-for %v is not positive", c.reconnectFor)
		}
		conns = watchConns(&cfg)
	}
	n, err := core.Listen(bindFor(to.Addr()), cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	exportNode(ctx, "send", n)
	if c.persistent {
		return sendPersistent(ctx, w, n, conns, to, key, src, c)
	}
	conn, err := n.Dial(ctx, to.String(), key)
	if err != nil {
		return dialError(ctx, err, c.to, key)
	}
	defer conn.Close()
	return transfer(ctx, w, conn, src, c.plain)
}

// parsePeerKey parses --key.
func parsePeerKey(s string) (core.PeerKey, error) {
	if s == "" {
		return core.PeerKey{}, errors.New("--key is required: the receiver's public key, the key line `petrel serve` prints")
	}
	pk, err := secure.ParsePublicKey(strings.TrimSpace(s))
	if err != nil {
		return core.PeerKey{}, fmt.Errorf("--key: %s (the key is the key line `petrel serve` prints)",
			strings.TrimPrefix(err.Error(), "secure: public key: "))
	}
	if pk.IsZero() {
		return core.PeerKey{}, errors.New("--key is all zeros, which is no node's key")
	}
	return core.PeerKey(pk), nil
}

// resolvePeer parses --to, an IP address or a host name and a port, and
// resolves the name here so that the node binds to the peer's family.
func resolvePeer(ctx context.Context, to string) (netip.AddrPort, error) {
	if to == "" {
		return netip.AddrPort{}, errors.New("--to is required: the receiver's HOST:PORT, the addr line `petrel serve` prints")
	}
	host, port, err := net.SplitHostPort(to)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("--to %q is not HOST:PORT (e.g. 192.0.2.7:4242, [2001:db8::7]:4242): %v", to, err)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return netip.AddrPort{}, fmt.Errorf("--to %q: the port %q is not a number from 1 to 65535", to, port)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil {
			return netip.AddrPort{}, fmt.Errorf("--to %q: %w", to, lerr)
		}
		if len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("--to %q: %s has no address", to, host)
		}
		ip = ips[0]
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(pn)), nil
}

// bindFor is the address the sender's node listens on: loopback for a
// peer on this machine (nothing is exposed), every address of the peer's
// family otherwise (the kernel picks the source of the route to the peer);
// port 0 either way.
func bindFor(peer netip.Addr) string {
	switch {
	case peer.IsLoopback() && peer.Is4():
		return "127.0.0.1:0"
	case peer.IsLoopback():
		return "[::1]:0"
	case peer.Is4():
		return "0.0.0.0:0"
	}
	return "[::]:0"
}

// dialError says in words why a dial failed.
func dialError(ctx context.Context, err error, to string, key core.PeerKey) error {
	var na *core.NoAnswerError
	var refused *secure.RefusedError
	switch {
	case ctx.Err() != nil:
		return errors.New("interrupted while connecting")
	case errors.As(err, &na):
		return fmt.Errorf("no answer from %s in %v (%d handshake attempts): nothing listens there, or the node there does not hold the key %v...; check --to and --key against the addr and key lines `petrel serve` printed",
			to, na.Waited.Round(time.Millisecond), na.Attempts, key)
	case errors.As(err, &refused):
		return fmt.Errorf("%s refused the connection: %v", to, refused.Reason)
	}
	return fmt.Errorf("connect to %s: %w", to, err)
}

// source is what send reads: a file or standard input.
type source struct {
	r     io.Reader
	name  string
	size  int64 // -1 when unknown (a pipe, a terminal)
	close func() error
}

// openSource opens FILE, or standard input for "-" or no argument.
func openSource(args []string) (*source, error) {
	if len(args) == 0 || args[0] == "-" {
		if len(args) == 0 && isTerminal(os.Stdin) {
			return nil, errors.New("nothing to send: name a FILE, or - to send standard input")
		}
		return &source{r: os.Stdin, name: "standard input", size: regularSize(os.Stdin), close: func() error { return nil }}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory: send one file, or an archive on standard input (tar c %s | petrel send ... -)", args[0], args[0])
	}
	return &source{r: f, name: args[0], size: regularSize(f), close: f.Close}, nil
}

// regularSize is f's size if it is a regular file, else -1.
func regularSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// transfer sends src on a new stream of conn and checks the receipt.
func transfer(ctx context.Context, w io.Writer, conn *core.Conn, src *source, plain bool) error {
	st, err := conn.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("open a stream: %w", err)
	}
	stopAbort := context.AfterFunc(ctx, func() { _ = st.Abort(abortInterrupted) })
	defer stopAbort()

	h := sha256.New()
	in := &countingReader{r: io.TeeReader(src.r, h)}
	start := time.Now()
	prog := newProgress(w, plain || src.size < 0)
	in.bar = prog.phase("send", src.size, true, func() string {
		cs := conn.Stats()
		return fmt.Sprintf("%.1f MB/s  rtt %v  retx %d", mbps(in.n.Load(), time.Since(start)), cs.RTT.Round(10*time.Microsecond), cs.Retransmits)
	})
	_, err = io.Copy(st, in) // the stream's ReadFrom
	if err == nil {
		err = st.CloseWrite()
	}
	var got receipt
	if err == nil {
		got, err = readReceipt(st) // the receiver's answer: every byte arrived and is stored
	}
	took := time.Since(start)
	in.bar.finish()
	prog.wait()
	sent := in.n.Load()

	var ae *core.StreamAbortError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted after %s", size(sent))
	case in.err != nil:
		_ = st.Abort(abortReadFailed)
		return fmt.Errorf("read %s: %w", src.name, in.err)
	case errors.As(err, &ae) && ae.Remote:
		return &receiverAbortError{code: ae.Code, sent: sent}
	case err != nil:
		return fmt.Errorf("after %s: %w", size(sent), err)
	}
	want := receipt{n: uint64(sent)}
	h.Sum(want.sum[:0])
	if got != want {
		return fmt.Errorf("the receipt does not match: the receiver stored %v; sent %v", got, want)
	}
	fmt.Fprintf(w, "sent %s (%d bytes) in %v: %.1f MB/s, %d retransmissions; the receiver confirmed the count and SHA-256 %x\n",
		size(sent), sent, took.Round(time.Millisecond), mbps(sent, took), conn.Stats().Retransmits, want.sum)
	return nil
}

// countingReader counts what it reads for the progress bar, and keeps its
// source's errors apart from the stream's.
type countingReader struct {
	r   io.Reader
	n   atomic.Int64 // read by the progress bar's status
	err error        // the source's error other than io.EOF; read once the copy returned
	bar *phaseBar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.set(c.n.Add(int64(n)))
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// receiverAbortError is transfer's error when the receiver aborted the
// stream: code says why (abortShutdown: it is shutting down, and a
// persistent sender sends again once it is back).
type receiverAbortError struct {
	code uint64
	sent int64
}

func (e *receiverAbortError) Error() string {
	return fmt.Sprintf("the receiver aborted the stream after %s: %s", size(e.sent), abortReason(e.code))
}
