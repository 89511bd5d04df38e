package transfer

import (
	"context"

	"github.com/petrel-transport/petrel/bench/internal/transports"
)

// kcpSetup: a kcp-go listener and a session to it from a socket of its
// own (transports: AES-128, the fast settings), through the relay when
// impaired, with FEC (transports.LossFEC) only then: it measured faster
// under loss and only costs on the clean path. A KCP session is one byte stream, so like TCP the link
// carries one stream; the listener accepts the session when the hello byte
// of openFlows reaches it.
func kcpSetup(ctx context.Context, l *link, impaired bool) error {
	fec := transports.NoFEC
	if impaired {
		fec = transports.LossFEC
	}
	ln, err := transports.ListenKCP(fec)
	if err != nil {
		return err
	}
	l.onClose(ln.Close)
	addr, err := l.route(transports.KCPAddr(ln), impaired)
	if err != nil {
		return err
	}
	c, err := transports.DialKCP(addr, fec)
	if err != nil {
		return err
	}
	l.onClose(c.Close)
	used := false
	l.open = func(context.Context) (stream, error) {
		if used {
			return nil, errOneStream
		}
		used = true
		return c, nil
	}
	accepted := false
	l.accept = func(ctx context.Context) (stream, error) {
		if accepted {
			return nil, errOneStream
		}
		accepted = true
		s, err := transports.AcceptKCP(ctx, ln)
		if err != nil {
			return nil, err
		}
		l.onClose(s.Close)
		return s, nil
	}
	return nil
}
