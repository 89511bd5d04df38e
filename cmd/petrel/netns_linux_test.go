package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The multi-host test: three network namespaces, A (the sender), R (a
// router) and B (the receiver), joined by two veth pairs on two IPv4
// subnets, with routes through R:
//
//	A 10.77.1.2 ── 10.77.1.1 R 10.77.2.1 ── 10.77.2.2 B
//	                  │         tbf 50 Mbit/s (R -> B)
//	            petrel relay
//	        (loss, delay; a NAT-like socket per client)
//
// R's link towards B is rate-limited by a tbf qdisc (50 Mbit/s, a 64 KiB
// bucket, 20 ms of queue), so the bottleneck is the kernel's. This kernel
// has no netem qdisc: loss and delay come from `petrel relay` running in R,
// which forwards what A sends to its address on to B. Every petrel process
// is the command built once by petrelBinary, run with `ip netns exec`.

const (
	netnsRateMbit = 50
	netnsDelay    = 10 * time.Millisecond // the relay's one-way delay: 20 ms more round trip
	netnsLoss     = 0.01
	addrA         = "10.77.1.2"
	addrA2        = "10.77.1.3" // A's address after the renumbering of the rebind phase
	addrRA        = "10.77.1.1" // R on A's subnet: where the relay listens
	addrB         = "10.77.2.2"
)

// topo is the namespaces of one run; names carry the test process's id so
// that parallel runs (and leftovers of a killed one) never collide.
type topo struct {
	t             *testing.T
	a, r, b       string // namespace names
	vethA, vethRA string // A's end and R's end of the A-R pair
	vethRB, vethB string // R's end and B's end of the R-B pair
	bin           string
	dir           string
	key, keyFile  string
}

// newTopo builds the namespaces, or skips the test where that is not
// possible (not root, no `ip`, no network namespaces). Cleanup deletes the
// namespaces (their veths go with them) even when the test fails.
func newTopo(t *testing.T) *topo {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (CAP_NET_ADMIN); run as root to test across namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("no ip command (iproute2): %v", err)
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skipf("no tc command (iproute2): %v", err)
	}
	id := os.Getpid()
	tp := &topo{t: t,
		a: fmt.Sprintf("pnA%d", id), r: fmt.Sprintf("pnR%d", id), b: fmt.Sprintf("pnB%d", id),
		vethA: fmt.Sprintf("pa%d", id), vethRA: fmt.Sprintf("pra%d", id),
		vethRB: fmt.Sprintf("prb%d", id), vethB: fmt.Sprintf("pb%d", id),
	}
	if out, err := exec.Command("ip", "netns", "add", tp.a).CombinedOutput(); err != nil {
		t.Skipf("ip netns add failed, so this host cannot make network namespaces: %v: %s", err, out)
	}
	t.Cleanup(func() {
		for _, ns := range []string{tp.a, tp.r, tp.b} {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	tp.run("ip", "netns", "add", tp.r)
	tp.run("ip", "netns", "add", tp.b)
	for _, ns := range []string{tp.a, tp.r, tp.b} {
		tp.run("ip", "-n", ns, "link", "set", "lo", "up")
	}
	tp.run("ip", "link", "add", tp.vethA, "netns", tp.a, "type", "veth", "peer", "name", tp.vethRA, "netns", tp.r)
	tp.run("ip", "link", "add", tp.vethRB, "netns", tp.r, "type", "veth", "peer", "name", tp.vethB, "netns", tp.b)
	for _, c := range []struct{ ns, dev, addr string }{
		{tp.a, tp.vethA, addrA + "/24"}, {tp.r, tp.vethRA, addrRA + "/24"},
		{tp.r, tp.vethRB, "10.77.2.1/24"}, {tp.b, tp.vethB, addrB + "/24"},
	} {
		tp.run("ip", "-n", c.ns, "addr", "add", c.addr, "dev", c.dev)
		tp.run("ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	tp.run("ip", "-n", tp.a, "route", "add", "default", "via", addrRA)
	tp.run("ip", "-n", tp.b, "route", "add", "default", "via", "10.77.2.1")
	tp.run("ip", "netns", "exec", tp.r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	// The rebind phase deletes A's first address: with promote_secondaries
	// the second one becomes primary and keeps the subnet's routes (without
	// it the kernel deletes every secondary address of the subnet too).
	tp.run("ip", "netns", "exec", tp.a, "sysctl", "-qw", "net.ipv4.conf."+tp.vethA+".promote_secondaries=1")
	// tbf: rate, a bucket of 64 KiB (bursts of about 50 datagrams) and at
	// most 20 ms of queue before tail drop (tc-tbf(8)).
	tp.run("tc", "-n", tp.r, "qdisc", "add", "dev", tp.vethRB, "root", "tbf",
		"rate", fmt.Sprintf("%dmbit", netnsRateMbit), "burst", "64kb", "latency", "20ms")

	tp.bin = petrelBinary(t)
	tp.dir = t.TempDir()
	tp.keyFile = filepath.Join(tp.dir, "server.key")
	out, err := exec.Command(tp.bin, "keygen", "--out", tp.keyFile).CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`public key: ([0-9a-f]{64})`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("keygen printed no public key:\n%s", out)
	}
	tp.key = string(m[1])
	return tp
}

// run runs a setup command, failing the test on an error.
func (tp *topo) run(argv ...string) {
	tp.t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		tp.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// start runs petrel with args in namespace ns.
func (tp *topo) start(ns, name string, args ...string) *proc {
	tp.t.Helper()
	return startProc(tp.t, name, append([]string{"ip", "netns", "exec", ns, tp.bin}, args...)...)
}

// serve starts `petrel serve` in B with the test's key file, storing into
// a new directory it returns, and waits for its addr line.
func (tp *topo) serve(ctx context.Context, port int, extra ...string) (*proc, string) {
	tp.t.Helper()
	inbox, err := os.MkdirTemp(tp.dir, "inbox-")
	if err != nil {
		tp.t.Fatal(err)
	}
	return tp.serveInto(ctx, port, inbox, extra...), inbox
}

func (tp *topo) serveInto(ctx context.Context, port int, inbox string, extra ...string) *proc {
	tp.t.Helper()
	args := append([]string{"serve", "--listen", fmt.Sprintf("%s:%d", addrB, port), "--identity", tp.keyFile, "--out", inbox}, extra...)
	p := tp.start(tp.b, "serve", args...)
	if _, err := p.field(ctx, "addr"); err != nil {
		tp.t.Fatal(err)
	}
	return p
}

// relay starts `petrel relay` in R, listening on R's address on A's
// subnet at port and forwarding to B's port.
func (tp *topo) relay(ctx context.Context, port, target int, loss float64) *proc {
	tp.t.Helper()
	p := tp.start(tp.r, "relay", "relay", "--listen", fmt.Sprintf("%s:%d", addrRA, port),
		"--to", fmt.Sprintf("%s:%d", addrB, target), "--loss", strconv.FormatFloat(loss, 'f', -1, 64),
		"--delay", netnsDelay.String(), "--seed", "7")
	if _, err := p.field(ctx, "addr"); err != nil {
		tp.t.Fatal(err)
	}
	return p
}

// send starts `petrel send --plain` in A to HOST:PORT.
func (tp *topo) send(to string, file string, extra ...string) *proc {
	tp.t.Helper()
	args := append([]string{"send", "--plain", "--to", to, "--key", tp.key}, extra...)
	return tp.start(tp.a, "send", append(args, file)...)
}

// summary is what send's last line says of a confirmed transfer.
var summary = regexp.MustCompile(`^sent .* \((\d+) bytes\) in (\S+): ([0-9.]+) MB/s, (\d+) retransmissions; the receiver confirmed`)

// confirmed waits for send to exit 0 with its summary and returns the
// goodput in Mbit/s; the file stored in inbox must be src, whole.
func (tp *topo) confirmed(ctx context.Context, send *proc, src, inbox string, others ...*proc) float64 {
	tp.t.Helper()
	if err := send.wait(ctx); err != nil {
		tp.t.Fatalf("send: %v\n%s%s", err, send.logs(), logsOf(others))
	}
	ln, _, err := send.out.waitFor(ctx, 0, summary.MatchString)
	if err != nil {
		tp.t.Fatalf("send printed no summary: %v\n%s", err, send.logs())
	}
	m := summary.FindStringSubmatch(ln.text)
	mb, _ := strconv.ParseFloat(m[3], 64)
	checkStored(tp.t, inbox, src)
	return mb * 8
}

func logsOf(ps []*proc) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.logs())
	}
	return b.String()
}

// checkStored checks that inbox holds exactly one file, equal to src.
func checkStored(t *testing.T, inbox, src string) {
	t.Helper()
	files, err := os.ReadDir(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%s holds %d files, want 1: %v", inbox, len(files), files)
	}
	wn, want := fileSum(t, src)
	if n, got := fileSum(t, filepath.Join(inbox, files[0].Name())); n != wn || got != want {
		t.Fatalf("stored %d bytes with SHA-256 %x; sent %d with %x", n, got, wn, want)
	}
}

// midTransfer waits for send's first progress line (a second into the
// transfer) and checks the transfer is not done yet.
func midTransfer(ctx context.Context, t *testing.T, send *proc) {
	t.Helper()
	ln, _, err := send.out.waitFor(ctx, 0, func(s string) bool { return strings.HasPrefix(s, "send ") })
	if err != nil {
		t.Fatalf("send showed no progress: %v\n%s", err, send.logs())
	}
	if m := regexp.MustCompile(`send\s+([0-9.]+ \S+) / ([0-9.]+ \S+)`).FindStringSubmatch(ln.text); m == nil || m[1] == m[2] || strings.HasPrefix(m[1], "0 ") {
		t.Fatalf("not in the middle of the transfer: %q", ln.text)
	}
}

// TestNetns moves files between processes in separate network namespaces
// through a rate-limited router and petrel's lossy relay, then while the
// sender's address changes, then across a restart of the receiver, and
// prints the figures as a RELIABILITY line (see RELIABILITY.md).
func TestNetns(t *testing.T) {
	// A cleanup, registered first so it runs last: after the processes'
	// cleanups have reaped them and their output readers.
	t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) })
	tp := newTopo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a failure guard
	defer cancel()

	big := filepath.Join(tp.dir, "big.bin")
	writeRandomFile(t, big, 24<<20, 11)
	small := filepath.Join(tp.dir, "small.bin")
	writeRandomFile(t, small, 3<<20, 12)
	var moved int64
	fig := map[string]string{}

	// 1. Through the bottleneck and the relay's delay (no loss), then through
	// the relay with 1% loss each way.
	t.Run("transfer", func(t *testing.T) {
		serve, inbox := tp.serve(ctx, 4301, "--count", "1")
		relay := tp.relay(ctx, 4001, 4301, 0)
		send := tp.send(addrRA+":4001", big)
		rate := tp.confirmed(ctx, send, big, inbox, serve, relay)
		if err := serve.wait(ctx); err != nil {
			t.Fatalf("serve: %v\n%s", err, serve.logs())
		}
		stopRelay(ctx, t, relay)
		moved += 24 << 20
		fig["rate_mbit"] = fmt.Sprintf("%.1f", rate)
		t.Logf("24 MiB through tbf %d Mbit/s and a %v RTT: %.1f Mbit/s", netnsRateMbit, 2*netnsDelay, rate)

		serve, inbox = tp.serve(ctx, 4302, "--count", "1")
		relay = tp.relay(ctx, 4002, 4302, netnsLoss)
		send = tp.send(addrRA+":4002", small)
		lossy := tp.confirmed(ctx, send, small, inbox, serve, relay)
		if err := serve.wait(ctx); err != nil {
			t.Fatalf("serve: %v\n%s", err, serve.logs())
		}
		fig["relay_lost"] = stopRelay(ctx, t, relay)
		moved += 3 << 20
		fig["lossy_rate_mbit"] = fmt.Sprintf("%.1f", lossy)
		t.Logf("3 MiB through %.0f%% loss each way: %.1f Mbit/s", netnsLoss*100, lossy)
	})

	// 2. Rebinding: A's address changes mid-transfer (the first is deleted,
	// a second on the same subnet takes over: what a renumbered host or a
	// new DHCP lease does), and every later datagram leaves A from the new
	// address. Twice: through the relay, which like a NAT opens a new socket
	// for the new client address, so B sees the connection come from a new
	// port of R (a NAT rebinding); and routed straight to B, which sees A's
	// new address itself. The transfer must complete on the one connection:
	// serve logs one connection line, and its received line shows the new
	// address.
	for _, path := range []struct {
		name  string
		relay bool
		port  int
	}{{"nat", true, 4303}, {"address", false, 4306}} {
		t.Run("rebind/"+path.name, func(t *testing.T) {
			serve, inbox := tp.serve(ctx, path.port, "--count", "1")
			to, others := fmt.Sprintf("%s:%d", addrB, path.port), []*proc{serve}
			var relay *proc
			if path.relay {
				relay = tp.relay(ctx, path.port-300, path.port, 0)
				to, others = fmt.Sprintf("%s:%d", addrRA, path.port-300), append(others, relay)
			}
			send := tp.send(to, big)
			midTransfer(ctx, t, send)
			tp.run("ip", "-n", tp.a, "addr", "add", addrA2+"/24", "dev", tp.vethA)
			tp.run("ip", "-n", tp.a, "addr", "del", addrA+"/24", "dev", tp.vethA)
			t.Cleanup(func() { // give A its address back for the later phases
				_ = exec.Command("ip", "-n", tp.a, "addr", "add", addrA+"/24", "dev", tp.vethA).Run()
				_ = exec.Command("ip", "-n", tp.a, "addr", "del", addrA2+"/24", "dev", tp.vethA).Run()
				_ = exec.Command("ip", "-n", tp.a, "route", "replace", "default", "via", addrRA).Run()
			})
			tp.confirmed(ctx, send, big, inbox, others...)
			if err := serve.wait(ctx); err != nil {
				t.Fatalf("serve: %v\n%s", err, serve.logs())
			}
			if relay != nil {
				stopRelay(ctx, t, relay)
			}
			moved += 24 << 20
			first, _, err := serve.err.waitFor(ctx, 0, func(s string) bool { return strings.Contains(s, "msg=connection ") })
			if err != nil {
				t.Fatalf("serve logged no connection: %v\n%s", err, serve.logs())
			}
			if n := strings.Count(serve.err.String(), "msg=connection "); n != 1 {
				t.Fatalf("serve logged %d connections, want 1 (the connection must migrate, not restart):\n%s", n, serve.logs())
			}
			recv, _, err := serve.err.waitFor(ctx, 0, func(s string) bool { return strings.Contains(s, "msg=received ") })
			if err != nil {
				t.Fatal(err)
			}
			was, now := fieldOf(first.text, "addr"), fieldOf(recv.text, "addr")
			if was == "" || was == now {
				t.Fatalf("the sender's address did not change during the connection (%q, then %q):\n%s", was, now, serve.logs())
			}
			if !path.relay && !strings.HasPrefix(now, addrA2+":") {
				t.Fatalf("serve last saw the sender at %s, want A's new address %s", now, addrA2)
			}
			fig["rebind_"+path.name] = "ok"
			t.Logf("the connection followed the sender from %s to %s", was, now)
		})
	}
	if fig["rebind_nat"] == "ok" && fig["rebind_address"] == "ok" {
		fig["rebind"] = "ok"
	}

	// 3. Shutdown mid-transfer: SIGTERM stops serve while a stream arrives.
	// The sender must fail with the receiver's reason, and nothing may be
	// left in serve's directory that looks stored.
	t.Run("sigterm", func(t *testing.T) {
		serve, inbox := tp.serve(ctx, 4304)
		send := tp.send(addrB+":4304", big)
		midTransfer(ctx, t, send)
		if err := serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := serve.wait(ctx); err != nil {
			t.Fatalf("serve did not exit cleanly on SIGTERM: %v\n%s", err, serve.logs())
		}
		err := send.wait(ctx)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("send: %v, want exit status 1\n%s", err, send.logs())
		}
		if !strings.Contains(send.err.String(), "the receiver is shutting down") {
			t.Errorf("send does not say why it failed:\n%s", send.logs())
		}
		if strings.Contains(send.out.String(), "confirmed") {
			t.Errorf("send reports a confirmed transfer:\n%s", send.logs())
		}
		if strings.Contains(serve.err.String(), "msg=received ") || !strings.Contains(serve.err.String(), "stream not received") {
			t.Errorf("serve's log does not show the stream as not received:\n%s", serve.logs())
		}
		if files, err := os.ReadDir(inbox); err != nil || len(files) != 0 {
			t.Errorf("serve left %v in its directory (%v): a partial stream must not look stored", files, err)
		}
	})

	// 4. Restart: serve is stopped (SIGTERM) mid-transfer and started again
	// with the same key file at the same address. `send --persistent`
	// keeps it as a persistent peer: its node's supervisor redials with
	// backoff, and the file is sent again, whole, on the new connection
	// (the receiver stores only whole streams). The figure is the time
	// from the new serve's addr line to the sender's reconnected line.
	t.Run("restart", func(t *testing.T) {
		serve, inbox := tp.serve(ctx, 4305)
		send := tp.send(addrB+":4305", big, "--persistent")
		midTransfer(ctx, t, send)
		if err := serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := serve.wait(ctx); err != nil {
			t.Fatalf("serve did not exit cleanly: %v\n%s", err, serve.logs())
		}
		if _, _, err := send.err.waitFor(ctx, 0, func(s string) bool { return strings.Contains(s, "waiting for the supervisor") }); err != nil {
			t.Fatalf("send did not report the failed transfer: %v\n%s", err, send.logs())
		}
		if files, err := os.ReadDir(inbox); err != nil || len(files) != 0 {
			t.Fatalf("the stopped serve left %v (%v)", files, err)
		}
		serve2 := tp.serveInto(ctx, 4305, inbox, "--count", "1")
		up, _, _ := serve2.out.waitFor(ctx, 0, func(s string) bool { return strings.HasPrefix(s, "addr ") })
		re, _, err := send.err.waitFor(ctx, 0, func(s string) bool { return strings.Contains(s, "reconnected by the supervisor") })
		if err != nil {
			t.Fatalf("the sender never reconnected: %v\n%s%s", err, send.logs(), serve2.logs())
		}
		tp.confirmed(ctx, send, big, inbox, serve2)
		if err := serve2.wait(ctx); err != nil {
			t.Fatalf("serve: %v\n%s", err, serve2.logs())
		}
		moved += 24 << 20
		ms := re.at.Sub(up.at).Milliseconds()
		fig["restart_reconnect_ms"] = strconv.FormatInt(ms, 10)
		t.Logf("reconnected %d ms after the receiver came back: %s", ms, re.text)
	})

	if t.Failed() {
		return
	}
	t.Logf("RELIABILITY netns transfer_bytes=%d intact=true rate_mbit=%s tbf_mbit=%d loss=%g lossy_rate_mbit=%s relay_lost=%s rtt_ms=%d rebind=%s restart_reconnect_ms=%s",
		moved, fig["rate_mbit"], netnsRateMbit, netnsLoss, fig["lossy_rate_mbit"], fig["relay_lost"], (2 * netnsDelay).Milliseconds(), fig["rebind"], fig["restart_reconnect_ms"])
}

// stopRelay stops a relay with SIGINT and returns the datagrams its model
// dropped in both directions (its forward and reverse lines' lost=).
func stopRelay(ctx context.Context, t *testing.T, relay *proc) string {
	t.Helper()
	if err := relay.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := relay.wait(ctx); err != nil {
		t.Fatalf("relay: %v\n%s", err, relay.logs())
	}
	var lost int64
	for _, dir := range []string{"forward ", "reverse "} {
		ln, _, err := relay.out.waitFor(ctx, 0, func(s string) bool { return strings.HasPrefix(s, dir) })
		if err != nil {
			t.Fatalf("relay printed no %sline: %v\n%s", dir, err, relay.logs())
		}
		n, _ := strconv.ParseInt(fieldOf(ln.text, "lost"), 10, 64)
		lost += n
	}
	return strconv.FormatInt(lost, 10)
}

// fieldOf returns the value of key=value in a slog text line.
func fieldOf(s, key string) string {
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
