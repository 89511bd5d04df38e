package transfer

import (
	"context"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"github.com/quic-go/quic-go"
)

// quicConfig is the benchmarks' quic-go configuration (transports.QUICConfig:
// receive windows raised to petrel's) with MaxIncomingStreams raised from
// its default of 100 to streamLimit, on both endpoints.
func quicConfig() *quic.Config {
	c := transports.QUICConfig()
	c.MaxIncomingStreams = streamLimit
	return c
}

// quicSetup: a quic-go listener and a connection to it from a socket of
// its own, through the relay when impaired; streams are bidirectional,
// used one way.
func quicSetup(ctx context.Context, l *link, impaired bool) error {
	cfg := quicConfig()
	ln, closeServer, err := transports.ListenQUIC(cfg)
	if err != nil {
		return err
	}
	l.onClose(closeServer)
	addr, err := l.route(transports.AddrOf(ln), impaired)
	if err != nil {
		return err
	}
	c, closeClient, err := transports.DialQUIC(ctx, addr, cfg)
	if err != nil {
		return err
	}
	l.onClose(closeClient)
	sc, err := ln.Accept(ctx)
	if err != nil {
		return err
	}
	l.onClose(func() error { return sc.CloseWithError(0, "") })
	l.open = func(ctx context.Context) (stream, error) { return asStream(c.OpenStreamSync(ctx)) }
	l.accept = func(ctx context.Context) (stream, error) { return asStream(sc.AcceptStream(ctx)) }
	return nil
}
