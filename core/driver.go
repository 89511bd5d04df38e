package core

import (
	"net/netip"

	"github.com/petrel-transport/petrel/batchio"
)

// Handler is what a driver hands received datagrams to; the Node
// implements it. core/loop and core/simnet declare the same interface, so
// their drivers deliver to a Node without importing core.
type Handler interface {
	// HandleBatch is called on a driver goroutine with the datagrams of one
	// read. msgs and their Buffers are valid only until it returns. Calls
	// from one loop (loop in [0, Driver.Loops())) never overlap.
	HandleBatch(loop int, msgs []batchio.Message)
}

// Driver moves a Node's datagrams: core/loop's gnet and poller drivers over
// real sockets, core/simnet's simulated network in tests.
type Driver interface {
	// WriteBatch sends msgs (Addr is each destination). It is safe for
	// concurrent use, reads the Buffers during the call only, and parks
	// while the socket's send buffer is full.
	WriteBatch(msgs []batchio.Message) (int, error)
	// LocalAddr is the address the driver is bound to.
	LocalAddr() netip.AddrPort
	// Loops is the number of loops that call HandleBatch.
	Loops() int
	// Close stops the driver; once it returns no HandleBatch call runs.
	Close() error
}

// DriverFunc opens a driver that delivers to h.
type DriverFunc func(h Handler) (Driver, error)
