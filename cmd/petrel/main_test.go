package main

import (
	"bytes"
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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakOpts...) }

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// TestDemoSmall runs the demo end to end with small sizes, over both
// drivers: two nodes, a clean transfer, then both directions through the
// lossy relay; the report must account for what moved.
func TestDemoSmall(t *testing.T) {
	for _, driver := range []string{"gnet", "poller"} {
		t.Run(driver, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			code, out, errOut := runCLI("demo", "--driver", driver, "--clean-bytes", "8M", "--clean-message", "256K",
				"--lossy-message", "4K", "--duration", "2s", "--loss", "0.02", "--plain")
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, want := range []string{"== report", "moved      8.0 MiB", "A→B", "B→A", "latency", "relay      A→B"} {
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
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"nonsense"}, 2, "unknown command"},
		{[]string{"demo", "--driver", "tcp"}, 1, "gnet or poller"},
		{[]string{"demo", "--clean-bytes", "lots"}, 2, "not a size"},
		{[]string{"demo", "--loss", "1.5"}, 1, "--loss"},
		{[]string{"demo", "extra"}, 2, "unexpected arguments"},
		{[]string{"demo", "--log-level", "loud"}, 2, "--log-level"},
	} {
		code, _, errOut := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "demo") {
		t.Errorf("help: exit %d, %q", code, out)
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
	for _, want := range []string{"petrel_packets_total", "petrel_drops_total", "petrel_connections", "petrel_retransmits_total"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
}
