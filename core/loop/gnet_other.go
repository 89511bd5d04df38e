//go:build !linux

package loop

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/petrel-transport/petrel/batchio"
)

// Gnet is the gnet driver, which needs batchio's fd mode (Linux): here
// ListenGnet fails and the poller driver is the one to use.
type Gnet struct{}

// ListenGnet returns an error matching errors.ErrUnsupported: the gnet
// driver drains gnet's sockets with batchio.NewFD, which only Linux has.
// Use ListenPoller.
func ListenGnet(addr string, cfg Config, h Handler) (*Gnet, error) {
	return nil, fmt.Errorf("loop: gnet driver: %w", errors.ErrUnsupported)
}

// WriteBatch returns ErrClosed: a Gnet is never open here.
func (g *Gnet) WriteBatch(msgs []batchio.Message) (int, error) { return 0, ErrClosed }

// LocalAddr returns the zero AddrPort.
func (g *Gnet) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// Loops returns 0.
func (g *Gnet) Loops() int { return 0 }

// Stats returns zero Stats.
func (g *Gnet) Stats() Stats { return Stats{} }

// Close does nothing.
func (g *Gnet) Close() error { return nil }
