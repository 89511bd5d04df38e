package core

import "github.com/petrel-transport/petrel/core/session"

// Stream is a reliable, ordered, flow-controlled byte stream on a Conn, in
// both directions: an io.ReadWriteCloser with CloseWrite (a half close),
// Abort(code), deadlines, and io.ReaderFrom / io.WriterTo so io.Copy moves
// a file through it without a buffer of its own. Its full contract is
// session.Stream's.
//
// Messages or streams: SendMessage suits requests, replies and blocks up
// to MaxMessageSize that the application handles whole (one ordered
// channel per connection, no framing of your own); a Stream suits bytes
// whose size is large or unknown (files, pipes, media) and independent
// flows that must not wait on each other (each stream has its own order
// and flow control, so a stalled or aborted one never holds another back).
type Stream = session.Stream

// StreamAbortError is the error of calls on a stream that was aborted: by
// the peer (Remote), by Abort, or by the transport (its Cause:
// ErrWindowWait, ErrStreamInactive, ReadFrom's reader error, the
// connection's end).
type StreamAbortError = session.StreamAbortError

// Stream abort causes.
var (
	// ErrWindowWait: a stream's written bytes waited longer than
	// Transport.WindowWaitTimeout for window or credit.
	ErrWindowWait = session.ErrWindowWait
	// ErrStreamInactive: a stream the peer opened brought nothing for
	// Transport.StreamInactivityTimeout.
	ErrStreamInactive = session.ErrStreamInactive
)
