package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
)

// gnet's worker pool starts two goroutines when its package loads; they
// live for the whole process.
var leakOpts = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(removingBinary{m}, leakOpts...) }

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// TestDemoSmall runs the demo end to end with small sizes, over both
// drivers: two nodes, a clean transfer, then both directions through the
// lossy relay; the report must account for what moved.
func TestDemoSmall(t *testing.T) {
	for _, driver := range []string{"gnet", "poller"} {
		t.Run(driver, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			code, out, errOut := runCLI("demo", "--driver", driver, "--clean-bytes", "8M",
				"--lossy-message", "4K", "--streams", "2", "--duration", "2s", "--loss", "0.02", "--plain")
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, want := range []string{"== report", "moved      8.0 MiB", "A→B", "B→A", "latency", "relay      A→B",
				"2 streams each way", "on streams", "in order",
				"abort      at", "A aborted its stream", "released", "B's reader saw the peer's abort (code 0x42)",
				"the other A→B streams went on", "before the abort"} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	code, out, errOut := runCLI("keygen", "--out", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	kp, err := secure.LoadKeyPair(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, kp.Public.String()) {
		t.Errorf("output %q does not show the public key %v", out, kp.Public)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", fi.Mode().Perm(), err)
	}
	if code, _, errOut := runCLI("keygen", "--out", path); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("overwriting a key file: exit %d, %q", code, errOut)
	}
}

func TestBadInvocations(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("some bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	badKeyFile := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(badKeyFile, []byte("not a key file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A node that answers only for its own key, and a port nobody listens on.
	n, err := core.Listen("127.0.0.1:0", core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := silent.LocalAddr().String()
	silent.Close()
	key := n.Identity().String()
	otherKey := strings.Repeat("ab", 32)
	to := n.Addr().String()

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"nonsense"}, 2, "unknown command"},
		{"demo driver", []string{"demo", "--driver", "tcp"}, 1, "gnet or poller"},
		{"demo size", []string{"demo", "--clean-bytes", "lots"}, 2, "not a size"},
		{"demo loss", []string{"demo", "--loss", "1.5"}, 1, "--loss"},
		{"demo streams", []string{"demo", "--streams", "1"}, 1, "--streams"},
		{"demo arguments", []string{"demo", "extra"}, 2, "unexpected arguments"},
		{"demo log level", []string{"demo", "--log-level", "loud"}, 2, "--log-level"},
		{"unknown flag", []string{"send", "--loud"}, 2, "`petrel send --help`"},

		{"serve address", []string{"serve", "--listen", "127.0.0.1"}, 1, "--listen 127.0.0.1"},
		{"serve missing out", []string{"serve", "--out", filepath.Join(dir, "missing")}, 1, "--out"},
		{"serve out is a file", []string{"serve", "--out", file}, 1, "not a directory"},
		{"serve count", []string{"serve", "--count", "-1"}, 1, "--count -1 is negative"},
		{"serve identity", []string{"serve", "--identity", badKeyFile}, 1, "bad key file"},
		{"serve driver", []string{"serve", "--driver", "tcp"}, 1, "gnet or poller"},
		{"serve arguments", []string{"serve", "extra"}, 2, "unexpected arguments"},
		{"serve log level", []string{"serve", "--log-level", "loud"}, 2, "--log-level"},

		{"send without key", []string{"send", "--to", to, file}, 1, "--key is required"},
		{"send without address", []string{"send", "--key", key, file}, 1, "--to is required"},
		{"send short key", []string{"send", "--to", to, "--key", "5c0f", file}, 1, "want 64 hex digits, have 4"},
		{"send key not hex", []string{"send", "--to", to, "--key", strings.Repeat("zz", 32), file}, 1, "invalid byte"},
		{"send zero key", []string{"send", "--to", to, "--key", strings.Repeat("00", 32), file}, 1, "all zeros"},
		{"send address without port", []string{"send", "--to", "127.0.0.1", "--key", key, file}, 1, "is not HOST:PORT"},
		{"send bad port", []string{"send", "--to", "127.0.0.1:99999", "--key", key, file}, 1, "not a number from 1 to 65535"},
		{"send port zero", []string{"send", "--to", "127.0.0.1:0", "--key", key, file}, 1, "not a number from 1 to 65535"},
		{"send missing file", []string{"send", "--to", to, "--key", key, filepath.Join(dir, "missing")}, 1, "no such file"},
		{"send directory", []string{"send", "--to", to, "--key", key, dir}, 1, "is a directory"},
		{"send two files", []string{"send", "--to", to, "--key", key, file, file}, 2, "unexpected arguments"},
		{"send flags after file", []string{"send", file, "--to", to}, 2, "flags go before the arguments"},
		{"send dial timeout", []string{"send", "--to", to, "--key", key, "--dial-timeout", "0s", file}, 1, "--dial-timeout"},
		{"send driver", []string{"send", "--driver", "tcp", "--to", to, "--key", key, file}, 1, "gnet or poller"},
		{"send log level", []string{"send", "--log-level", "loud"}, 2, "--log-level"},
		{"send wrong key", []string{"send", "--to", to, "--key", otherKey, "--dial-timeout", "700ms", file}, 1,
			"no answer from " + to},
		{"send persistent standard input", []string{"send", "--persistent", "--to", to, "--key", key, "-"}, 1, "--persistent needs a FILE"},
		{"send persistent reconnect-for", []string{"send", "--persistent", "--reconnect-for", "0s", "--to", to, "--key", key, file}, 1, "--reconnect-for 0s is not positive"},
		{"relay without target", []string{"relay"}, 1, "--to is required"},
		{"relay bad target", []string{"relay", "--to", "10.0.0.1"}, 1, "--to \"10.0.0.1\""},
		{"relay loss", []string{"relay", "--to", "127.0.0.1:9", "--loss", "1.5"}, 1, "--loss 1.5 is not a probability"},
		{"relay delay", []string{"relay", "--to", "127.0.0.1:9", "--delay", "-1s"}, 1, "--delay -1s"},
		{"send nobody there", []string{"send", "--to", nobody, "--key", key, "--dial-timeout", "700ms", file}, 1,
			"nothing listens there, or the node there does not hold the key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, tc.code, tc.want)
			}
		})
	}
}

// TestHelp: `petrel help` lists every command, and each command's --help
// prints its usage line, its explanation and its flags (the global ones
// too) on stdout.
func TestHelp(t *testing.T) {
	code, out, _ := runCLI("help")
	if code != 0 {
		t.Errorf("help: exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("help lacks %s:\n%s", c.name, out)
		}
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"demo", []string{"Usage: petrel demo [flags]", "-clean-bytes", "-streams"}},
		{"serve", []string{"Usage: petrel serve [flags]", "-listen", "-out", "-count", "-identity", "addr 127.0.0.1:41234",
			"petrel send --to 127.0.0.1:41234 --key 5c0f3e... ./photo.jpg"}},
		{"send", []string{"Usage: petrel send [flags] [FILE|-]", "-to", "-key", "$ petrel serve --out /tmp/inbox",
			"petrel send --to 127.0.0.1:41234", "-persistent", "-reconnect-for"}},
		{"keygen", []string{"Usage: petrel keygen [flags]", "-out"}},
		{"relay", []string{"Usage: petrel relay [flags]", "-listen", "-to", "-loss", "-delay", "-seed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.name, "--help")
			if code != 0 || errOut != "" {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
			for _, want := range append(tc.want, "-cpuprofile", "-memprofile", "-pprof", "-metrics", "-log-level") {
				if !strings.Contains(out, want) {
					t.Errorf("--help lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestMetricsCollector: a node's Stats come out as Prometheus metrics with
// the node label, counters counting what the node did.
func TestMetricsCollector(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	n, err := core.Listen("127.0.0.1:0", core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := newNodeCollector()
	c.add("A", n)
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() != "A" && m.GetLabel()[len(m.GetLabel())-1].GetValue() != "A" {
				t.Errorf("%s without the node label", f.GetName())
			}
		}
	}
	for _, want := range []string{"petrel_packets_total", "petrel_drops_total", "petrel_connections", "petrel_retransmits_total", "petrel_streams_total", "petrel_abort_released_bytes_total"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
}
