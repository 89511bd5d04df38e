package core_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/netem"
)

// wireTap is a driver that keeps a copy of every datagram its node sends: the
// attacker's view of the wire.
type wireTap struct {
	core.Driver
	mu   sync.Mutex
	sent [][]byte
}

func (t *wireTap) WriteBatch(msgs []batchio.Message) (int, error) {
	t.mu.Lock()
	for _, m := range msgs {
		if len(t.sent) < 4096 {
			t.sent = append(t.sent, append([]byte(nil), m.Buffer...))
		}
	}
	t.mu.Unlock()
	return t.Driver.WriteBatch(msgs)
}

func (t *wireTap) captured() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.sent...)
}

// TestHostileTraffic (DESIGN invariant 8): an attacker who sees the wire
// sends a live node garbage, truncated, bit-flipped, oversized and replayed
// copies of real packets, and forged handshakes, from its own address. The
// node counts each by reason, never moves the connection to the attacker's
// address, and the connection keeps delivering every message intact.
func TestHostileTraffic(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 3, netem.Config{Delay: 2 * time.Millisecond})
		var wireA *wireTap
		cfg := core.Config{Clock: bubbleClock{}}
		aAddr := netip.MustParseAddrPort("10.0.0.1:4000")
		a, err := core.ListenDriver(func(h core.Handler) (core.Driver, error) {
			ep, err := nw.Listen(aAddr, h)
			if err != nil {
				return nil, err
			}
			wireA = &wireTap{Driver: ep}
			return wireA, nil
		}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		attacker, err := nw.Listen(netip.MustParseAddrPort("10.6.6.6:666"), sink{}) // rebind_test.go: drops what it receives
		if err != nil {
			t.Fatal(err)
		}
		defer attacker.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)
		if err := pumpMessages(ctx, ca, cb, 1, 50, 3000); err != nil {
			t.Fatal(err)
		}
		seen := wireA.captured()
		if len(seen) < 20 {
			t.Fatalf("captured only %d datagrams", len(seen))
		}
		r := rand.New(rand.NewPCG(1, 2))
		send := func(d []byte) {
			if _, err := attacker.WriteBatch([]batchio.Message{{Buffer: d, Addr: b.Addr()}}); err != nil {
				t.Fatal(err)
			}
		}
		for range 2000 {
			orig := seen[r.IntN(len(seen))]
			d := append([]byte(nil), orig...)
			switch r.IntN(7) {
			case 0: // garbage of any size, the handshake bit either way
				d = make([]byte, r.IntN(1500))
				for i := range d {
					d[i] = byte(r.Uint32())
				}
			case 1: // truncated
				d = d[:r.IntN(len(d))]
			case 2: // one bit flipped past the header: authentication fails
				i := min(len(d)-1, 1+wire.ConnIDLen+r.IntN(max(1, len(d)-1-wire.ConnIDLen)))
				d[i] ^= 1 << r.IntN(8)
			case 3: // oversized: junk appended past the packet's length
				d = append(d, make([]byte, 1+r.IntN(64<<10-len(d)-100))...)
			case 4, 5: // replayed as captured, from the attacker's address
			case 6: // a header byte flipped
				d[r.IntN(min(len(d), 1+wire.ConnIDLen))] ^= 1 << r.IntN(8)
			}
			send(d)
			if r.IntN(50) == 0 {
				time.Sleep(time.Millisecond) // virtual: interleave with the real traffic
			}
		}
		time.Sleep(100 * time.Millisecond) // virtual: the attack is delivered
		if err := pumpMessages(ctx, ca, cb, 2, 200, 3000); err != nil {
			t.Fatalf("after the attack: %v", err)
		}
		if !ca.IsAlive() || !cb.IsAlive() {
			t.Fatalf("the attack ended the connection: %v / %v", ca.Err(), cb.Err())
		}
		if got := cb.RemoteAddr(); got != aAddr {
			t.Errorf("B follows %v, the attacker's address, not A's %v", got, aAddr)
		}
		d := b.Stats().Transport.Drops
		t.Logf("B's drops: %+v", d)
		if d.BadHeader == 0 || d.AEAD == 0 || d.Replay == 0 || d.UnknownConnID == 0 {
			t.Errorf("a reason went uncounted: %+v", d)
		}
	})
}
