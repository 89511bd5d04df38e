package loop

import (
	"errors"
	"fmt"
	"net"

	"github.com/petrel-transport/petrel/batchio"
)

// MaxLoops bounds Config.Loops: more SO_REUSEPORT sockets than this only
// spread one port's traffic thinner than any machine has cores for.
const MaxLoops = 256

// Handler receives the datagrams a driver reads.
type Handler interface {
	// HandleBatch is called with the datagrams one loop read, in the order
	// the kernel delivered them. loop is in [0, Loops). msgs and their
	// Buffers are valid only during the call: copy what is kept. Calls
	// from one loop never overlap; calls from different loops run in
	// parallel. HandleBatch may call WriteBatch; it must not call Close
	// (Close waits for the loops, one of which would be waiting for it).
	//
	// A Message with SegmentSize 0 may still hold several packets: the gnet
	// driver's first datagram of a wakeup is read by gnet without control
	// messages, so a UDP GRO receive arrives coalesced (doc.go). petrel's
	// packets are self-delimiting; the handler splits them.
	HandleBatch(loop int, msgs []batchio.Message)
}

// Config configures a driver. The zero value is the production default.
type Config struct {
	// Loops is the number of SO_REUSEPORT sockets bound to the address,
	// each drained by a loop of its own, in [1, MaxLoops]. 0 means 1.
	Loops int

	// Batch configures each socket's batchio.Conn (batch size, socket
	// buffers, GSO/GRO). The zero value is batchio's default.
	Batch batchio.Config
}

func (c Config) withDefaults() (Config, error) {
	if c.Loops == 0 {
		c.Loops = 1
	}
	if c.Loops < 1 || c.Loops > MaxLoops {
		return c, fmt.Errorf("loop: Loops %d outside [1, %d]", c.Loops, MaxLoops)
	}
	return c, nil
}

// ErrClosed is returned by WriteBatch after Close. It matches net.ErrClosed.
var ErrClosed = closedError{}

type closedError struct{}

func (closedError) Error() string        { return "loop: driver closed" }
func (closedError) Is(target error) bool { return target == net.ErrClosed }

var errNilHandler = errors.New("loop: nil Handler")
