// Command petrel is the command line of the petrel transport: a demo of
// two nodes on loopback moving data through a lossy link, and key
// generation. Run `petrel help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // --pprof serves it
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/petrel-transport/petrel/core"
)

// command is one subcommand: its flags and what it runs.
type command struct {
	name, summary string
	flags         func(fs *flag.FlagSet) func(ctx context.Context, out io.Writer) error
}

var commands = []command{
	{"demo", "two nodes on loopback: a clean transfer, then messages both ways through a lossy link; live progress and a report", demoFlags},
	{"keygen", "write a new static key pair to a file and print its public key", keygenFlags},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "petrel: reliable, encrypted, congestion-controlled messages between peers over UDP.\n\n")
	fmt.Fprintf(w, "Usage: petrel <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes --cpuprofile FILE, --memprofile FILE, --pprof ADDR, --metrics ADDR\n(Prometheus) and --log-level LEVEL.\n")
	fmt.Fprintf(w, "`petrel <command> --help` lists a command's flags. Start with `petrel demo`.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "petrel: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("petrel "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file on exit")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	metricsAddr := fs.String("metrics", "", "serve the nodes' Stats in the Prometheus text format at http://ADDR/metrics")
	runCmd := cmd.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "petrel %s: unexpected arguments %q\n", cmd.name, fs.Args())
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "petrel: --log-level %q: %v\n", *logLevel, err)
		return 2
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))

	if *pprofAddr != "" {
		srv := &http.Server{Addr: *pprofAddr}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				slog.Error("pprof server", "addr", *pprofAddr, "err", err)
			}
		}()
		defer srv.Close()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "petrel: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "petrel: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *metricsAddr != "" {
		c := newNodeCollector()
		stopMetrics, err := serveMetrics(*metricsAddr, c)
		if err != nil {
			fmt.Fprintf(stderr, "petrel: --metrics %s: %v\n", *metricsAddr, err)
			return 1
		}
		defer stopMetrics()
		ctx = withCollector(ctx, c)
	}
	err := runCmd(ctx, stdout)
	if *memProfile != "" {
		if werr := writeHeapProfile(*memProfile); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "petrel %s: %v\n", cmd.name, strings.TrimPrefix(err.Error(), "petrel: "))
		return 1
	}
	return 0
}

type collectorKey struct{}

func withCollector(ctx context.Context, c *nodeCollector) context.Context {
	return context.WithValue(ctx, collectorKey{}, c)
}

// exportNode registers n with the command's metrics, if --metrics is set.
func exportNode(ctx context.Context, label string, n *core.Node) {
	if c, ok := ctx.Value(collectorKey{}).(*nodeCollector); ok {
		c.add(label, n)
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // up-to-date statistics
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
