package main

import (
	"flag"
	"fmt"

	"github.com/petrel-transport/petrel/core"
)

// nodeFlags are the flags every command that opens a node shares.
type nodeFlags struct {
	driver string
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.driver, "driver", "gnet", "I/O driver: gnet (event loops) or poller (Go's runtime poller)")
}

// config turns the flags into a node's Config.
func (f *nodeFlags) config() (core.Config, error) {
	var cfg core.Config
	switch f.driver {
	case "gnet":
		cfg.Transport.Driver = core.DriverGnet
	case "poller":
		cfg.Transport.Driver = core.DriverPoller
	default:
		return cfg, fmt.Errorf("--driver %q: gnet or poller", f.driver)
	}
	return cfg, nil
}
