package transfer

import (
	"context"
	"errors"
	"net"

	"github.com/petrel-transport/petrel/bench/internal/transports"
)

// errOneStream is returned by a TCP or KCP link asked for a second stream.
var errOneStream = errors.New("transfer: a TCP or KCP link carries one stream")

// tcpSetup: one TCP connection on loopback, which is the link's one
// stream; there is no impaired TCP path (internal/relay relays UDP).
func tcpSetup(ctx context.Context, l *link, impaired bool) error {
	if impaired {
		return errors.New("transfer: no impaired path for TCP")
	}
	ln, err := transports.ListenTCP(ctx)
	if err != nil {
		return err
	}
	l.onClose(ln.Close)
	c, err := transports.DialTCP(ctx, ln)
	if err != nil {
		return err
	}
	l.onClose(c.Close)
	sc, err := ln.Accept()
	if err != nil {
		return err
	}
	l.onClose(sc.Close)
	l.open = once(c)
	l.accept = once(sc)
	return nil
}

// once returns c on its first call and errOneStream after.
func once(c net.Conn) func(context.Context) (stream, error) {
	var used bool
	return func(context.Context) (stream, error) {
		if used {
			return nil, errOneStream
		}
		used = true
		return c, nil
	}
}
