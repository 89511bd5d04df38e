package transfer

import (
	"context"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"github.com/petrel-transport/petrel/core"
)

// streamLimit is the most streams a benchmark opens on one connection at
// once (BenchmarkStreams/256): both quic-go's MaxIncomingStreams and
// petrel's limit of concurrent streams per peer default to 100, and an
// open beyond the limit parks until a stream ends, which none does here.
const streamLimit = 256

// petrelConfig is the configuration of both nodes of a petrel link: the
// benchmarks' (transports.PetrelConfig) with the stream limit raised. It is
// the one place a petrel Config is built in this package.
func petrelConfig(driver core.DriverKind) core.Config {
	cfg := transports.PetrelConfig(driver)
	cfg.Transport.MaxIncomingStreams = streamLimit
	return cfg
}

// petrelSetup: two nodes with the given driver, the dialler's stream
// towards the listener's node, through the relay when impaired.
func petrelSetup(driver core.DriverKind) setup {
	return petrelSetupWith(petrelConfig(driver), nil)
}

// petrelSetupWith is petrelSetup with cfg on both nodes; check, if not nil,
// vets the two ends of the connection before any byte moves.
func petrelSetupWith(cfg core.Config, check func(dialed, accepted *core.Conn) error) setup {
	return func(ctx context.Context, l *link, impaired bool) error {
		srv, err := transports.ListenPetrel(cfg)
		if err != nil {
			return err
		}
		l.onClose(srv.Close) // and every connection it accepted
		addr, err := l.route(srv.Addr(), impaired)
		if err != nil {
			return err
		}
		c, n, err := transports.DialPetrel(ctx, cfg, addr, srv.LocalKey())
		if err != nil {
			return err
		}
		l.onClose(n.Close)
		l.onClose(c.Close)
		sc, err := srv.Accept(ctx)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(c, sc); err != nil {
				return err
			}
		}
		l.open = func(ctx context.Context) (stream, error) { return asStream(c.OpenStream(ctx)) }
		l.accept = func(ctx context.Context) (stream, error) { return asStream(sc.AcceptStream(ctx)) }
		return nil
	}
}
