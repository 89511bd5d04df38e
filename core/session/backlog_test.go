package session_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// The send backlog (Config.SendBacklog): SendMessage queues a message for
// the session's sender goroutine and returns; what is delivered is the
// same, once, in order, and the sender goroutine ends with the session.

func TestSendBacklogMessages(t *testing.T) {
	lossy := netem.Config{Loss: 0.05, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, JitterReorders: true, Duplicate: 0.02, Seed: 11}
	lossy2 := lossy
	lossy2.Seed = 12
	clean := netem.Config{Delay: 5 * time.Millisecond}
	for _, tc := range []struct {
		name    string
		ab, ba  netem.Config
		n, size int
	}{
		{"clean/small", clean, clean, 2000, 200},
		{"clean/large", clean, clean, 300, 40000},
		{"lossy/small", lossy, lossy2, 1000, 200},
		{"lossy/large", lossy, lossy2, 200, 40000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := session.Config{SendBacklog: 64 << 10}
				p := newPair(t, pairConfig{ab: tc.ab, ba: tc.ba, cfgA: cfg, cfgB: cfg})
				defer p.stop()
				exchange(t, p, tc.n, tc.size)
				quiesce(t, p)
			})
		})
	}
}

// TestSendBacklogCoalesces: messages a responder's writer queues before the
// peer confirmed the session all leave in the packet that follows the
// confirmation, not one packet each.
func TestSendBacklogCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := netem.Config{Delay: 5 * time.Millisecond}
		p := newPair(t, pairConfig{ab: path, ba: path,
			cfgB: session.Config{Responder: true, SendBacklog: 64 << 10}})
		defer p.stop()
		ctx := context.Background()
		const n = 50
		for i := range n {
			if err := p.b.SendMessage(ctx, fmt.Appendf(nil, "m%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait() // the sender goroutine has run and found B unconfirmed
		if got := p.b.Stats().PacketsSent; got != 0 {
			t.Fatalf("unconfirmed responder sent %d packets", got)
		}
		if err := p.a.SendMessage(ctx, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			m, err := p.a.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("m%02d", i); string(m) != want {
				t.Fatalf("message %d is %q, want %q", i, m, want)
			}
		}
		if got := p.b.Stats().PacketsSent; got > 2 {
			t.Errorf("%d queued messages left in %d packets, want them in one (and at most an ACK)", n, got)
		}
	})
}
