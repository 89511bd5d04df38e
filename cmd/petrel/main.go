// Command petrel is the command line of the petrel transport: a demo of
// two nodes on loopback moving data through a lossy link, a receiver
// (serve) and a sender (send) of files between two machines, and key
// generation. Run `petrel help` for the commands.
package main

import (
	"cmp"
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
	"syscall"

	"github.com/petrel-transport/petrel/core"
)

// command is one subcommand: its flags and what it runs.
type command struct {
	name, summary string
	// args names the positional arguments in the usage line ("" for
	// none); maxArgs is how many the command takes, which its run reads
	// from the FlagSet's Args.
	args    string
	maxArgs int
	// help is the text --help prints between the usage line and the flags.
	help string
	// logLevel is the default of --log-level ("" for warn): the commands
	// that report each transfer in the log default to info.
	logLevel string
	flags    func(fs *flag.FlagSet) func(ctx context.Context, out io.Writer) error
}

var commands = []command{
	{name: "demo", summary: "two nodes on loopback: a clean transfer on one stream, then streams and messages both ways through a lossy link; live progress and a report",
		help: demoHelp, flags: demoFlags},
	{name: "serve", summary: "receive streams from senders: print this node's key and address, store each stream in a file (or discard it)",
		help: serveHelp, logLevel: "info", flags: serveFlags},
	{name: "send", summary: "send a file (or standard input) to a `petrel serve` node on one stream; the receiver confirms its size and SHA-256",
		args: "[FILE|-]", maxArgs: 1, help: sendHelp, logLevel: "info", flags: sendFlags},
	{name: "storm", summary: "test a node you operate with hostile traffic (garbage, replays, forged handshakes from many addresses) for a bounded time; report what was sent",
		help: stormHelp, flags: stormFlags},
	{name: "keygen", summary: "write a new static key pair to a file and print its public key",
		help: keygenHelp, flags: keygenFlags},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "petrel: reliable, encrypted, congestion-controlled messages and byte streams between peers over UDP.\n\n")
	fmt.Fprintf(w, "Usage: petrel <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes --cpuprofile FILE, --memprofile FILE, --pprof ADDR, --metrics ADDR\n(Prometheus) and --log-level LEVEL.\n")
	fmt.Fprintf(w, "`petrel <command> --help` explains a command and lists its flags. Start with `petrel demo`;\n")
	fmt.Fprintf(w, "`petrel serve --help` shows how to move a file between two machines.\n")
}

// commandUsage is what `petrel <command> --help` prints.
func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	line := "petrel " + c.name + " [flags]"
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", line, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s", c.help)
	}
	fmt.Fprintf(w, "\nFlags (--cpuprofile, --memprofile, --pprof, --metrics and --log-level work on every command):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, for tests: the command also ends when ctx
// does, as on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
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
	fs.Usage = func() {} // --help prints the command's usage to stdout below; a parse error only its message
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file on exit")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	defLevel := cmp.Or(cmd.logLevel, "warn")
	logLevel := fs.String("log-level", defLevel, "log level: debug, info, warn or error")
	metricsAddr := fs.String("metrics", "", "serve the nodes' Stats in the Prometheus text format at http://ADDR/metrics")
	runCmd := cmd.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, cmd, fs)
			return 0
		}
		fmt.Fprintf(stderr, "`petrel %s --help` explains the command and its flags.\n", cmd.name)
		return 2
	}
	if fs.NArg() > cmd.maxArgs {
		hint := ""
		if strings.HasPrefix(fs.Arg(cmd.maxArgs), "-") {
			hint = " (flags go before the arguments)"
		}
		fmt.Fprintf(stderr, "petrel %s: unexpected arguments %q%s\n", cmd.name, fs.Args()[cmd.maxArgs:], hint)
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
	// SIGTERM too: a service manager or a test stops a `petrel serve` with
	// it, and the node still closes gracefully.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
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
