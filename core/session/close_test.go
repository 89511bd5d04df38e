package session_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// TestCallsBetweenCloseSteps: Close marks the session closed and wakes
// the parked callers first, then sends CLOSE, then aborts every stream. A
// caller that runs in between (a parked writer just woken) must see what
// one after the last step sees: a *StreamAbortError with the session's end
// as its Cause, from Write, CloseWrite and Close alike, and never a nil
// CloseWrite for bytes nobody acknowledged. (Write returned the bare
// session error there, and CloseWrite nil.) The CLOSE packet's Send is
// the instant in between: the hook runs there.
func TestCallsBetweenCloseSteps(t *testing.T) {
	d := netem.Config{Delay: 10 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, nil)
		defer p.stop()
		ctx := context.Background()
		st, err := p.a.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		var writeErr, closeWriteErr, closeErr error
		ran := false
		hook := func() {
			if p.a.IsAlive() || ran {
				return // not Close's Send
			}
			ran = true
			_, writeErr = st.Write([]byte("more"))
			closeWriteErr = st.CloseWrite()
			closeErr = st.Close()
		}
		p.ab.onSend.Store(&hook)
		if err := p.a.Close(); err != nil {
			t.Fatal(err)
		}
		if !ran {
			t.Fatal("Close sent no CLOSE packet: the hook never ran")
		}
		for _, c := range []struct {
			call string
			err  error
		}{{"Write", writeErr}, {"CloseWrite", closeWriteErr}, {"Close", closeErr}} {
			var ae *session.StreamAbortError
			if !errors.As(c.err, &ae) || ae.Code != session.StreamCodeSessionDone || !errors.Is(c.err, session.ErrClosed) {
				t.Errorf("%s between Close's steps: %v; want a *StreamAbortError (session done) matching ErrClosed", c.call, c.err)
			}
		}
		// And after Close: the same.
		if _, err := st.Write([]byte("x")); !errors.Is(err, session.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		var ae *session.StreamAbortError
		if err := st.CloseWrite(); !errors.As(err, &ae) {
			t.Errorf("CloseWrite after Close: %v; want a *StreamAbortError", err)
		}
	})
}
