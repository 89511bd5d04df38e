package messages

import (
	"context"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	kcp "github.com/xtaci/kcp-go/v5"
)

// kcpTransport: kcp-go, one session (a byte stream) per connection
// carrying length-prefixed messages, set up by bench/internal/transports
// (AES-128, the fast settings: no-delay mode, 10 ms flush interval, ACKs
// sent at once, writes flushed at once, no FEC).
type kcpTransport struct{}

var (
	_ transport = kcpTransport{}
	_ listener  = kcpListener{}
)

type kcpListener struct{ ln *kcp.Listener }

func (kcpTransport) listen(context.Context) (listener, error) {
	ln, err := transports.ListenKCP(transports.NoFEC)
	if err != nil {
		return nil, err
	}
	return kcpListener{ln}, nil
}

// dial opens a session to the listener on a socket of its own; closing the
// msgConn closes the session and its socket.
func (kcpTransport) dial(_ context.Context, l listener) (msgConn, error) {
	s, err := transports.DialKCP(transports.KCPAddr(l.(kcpListener).ln), transports.NoFEC)
	if err != nil {
		return nil, err
	}
	return newFramed(s, s.Close), nil
}

// accept waits for the next session, which KCP announces with its first
// datagram (the client's first message).
func (l kcpListener) accept(ctx context.Context) (msgConn, error) {
	s, err := transports.AcceptKCP(ctx, l.ln)
	if err != nil {
		return nil, err
	}
	return newFramed(s, s.Close), nil
}

// Close stops listening and closes the socket, which ends every session it
// accepted.
func (l kcpListener) Close() error { return l.ln.Close() }
