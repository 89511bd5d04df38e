package transfer

import (
	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
)

// ablation is one line of BenchmarkAblation: petrel's configuration with
// one mechanism turned off or changed (none for default), and what the
// connection must show for the line to mean what its name says.
type ablation struct {
	name string
	cfg  func(*core.Config)
	// suite is the AEAD suite the connection must have negotiated.
	suite secure.Suite
}

// ablations are BenchmarkAblation's lines, in order; the names are
// bench/report's. Each changes one thing against default (the gnet
// driver, recvmmsg/sendmmsg with UDP GSO and GRO, AES-128-GCM where the
// CPU has AES instructions: BenchmarkTransfer/petrel-gnet's setting).
// no-mmsg moves one datagram per system call, so it has no GSO or GRO
// either (each is many datagrams in one call): it is the portable path's
// I/O, and default/no-mmsg is what batching the system calls is worth in
// all; no-gso-gro keeps the mmsg batches and drops the offloads alone.
var ablations = []ablation{
	{"default", func(*core.Config) {}, secure.DefaultSuite()},
	{"no-gso-gro", func(c *core.Config) {
		c.Transport.Batch.DisableGSO, c.Transport.Batch.DisableGRO = true, true
	}, secure.DefaultSuite()},
	{"no-mmsg", func(c *core.Config) { c.Transport.Batch = batchio.Config{DisableMmsg: true} }, secure.DefaultSuite()},
	{"poller", func(c *core.Config) { c.Transport.Driver = core.DriverPoller }, secure.DefaultSuite()},
	{"chacha20", func(c *core.Config) { c.Transport.Suite = secure.SuiteChaCha }, secure.SuiteChaCha},
}

// ablationSetup is petrelSetup (BenchmarkTransfer/petrel-gnet's) with
// a's change applied to both nodes' configuration, on the unimpaired
// path; it fails if the connection did not negotiate a's suite.
func ablationSetup(a ablation) setup {
	cfg := petrelConfig(core.DriverGnet)
	a.cfg(&cfg)
	return petrelSetupWith(cfg, func(c, sc *core.Conn) error {
		if c.Suite() != a.suite || sc.Suite() != a.suite {
			return &suiteError{a.name, c.Suite(), a.suite}
		}
		return nil
	})
}

// suiteError: an ablation's connection runs another suite than its line
// names.
type suiteError struct {
	line      string
	got, want secure.Suite
}

func (e *suiteError) Error() string {
	return "ablation " + e.line + ": connection negotiated " + e.got.String() + ", want " + e.want.String()
}
