package transports

import (
	"context"
	"errors"
	"net/netip"

	"github.com/petrel-transport/petrel/core"
)

// PetrelConfig is the configuration of every petrel node of the
// benchmarks: the given I/O driver, every other setting its default.
func PetrelConfig(driver core.DriverKind) core.Config {
	return core.Config{Transport: core.TransportConfig{Driver: driver}}
}

// ListenPetrel opens a node with cfg on 127.0.0.1 (a port the kernel
// picks). Closing the node ends every connection it has.
func ListenPetrel(cfg core.Config) (*core.Node, error) {
	return core.Listen("127.0.0.1:0", cfg)
}

// DialPetrel opens a node of its own with cfg on 127.0.0.1 and dials the
// node whose key is key at addr (that node's address, or a relay in front
// of it). The caller closes the connection, then the node.
func DialPetrel(ctx context.Context, cfg core.Config, addr netip.AddrPort, key core.PeerKey) (*core.Conn, *core.Node, error) {
	n, err := ListenPetrel(cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := n.Dial(ctx, addr.String(), key)
	if err != nil {
		return nil, nil, errors.Join(err, n.Close())
	}
	return c, n, nil
}
