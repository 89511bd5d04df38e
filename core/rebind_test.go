package core_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/netem"
)

// tap is a Handler between a simnet endpoint and a node that keeps a copy
// of the last short-header datagram delivered to the node (a wiretap on
// the node's link, for replaying genuine packets).
type tap struct {
	next core.Handler
	mu   sync.Mutex
	last []byte
}

func (t *tap) HandleBatch(loop int, msgs []batchio.Message) {
	t.mu.Lock()
	for _, m := range msgs {
		if len(m.Buffer) > 0 && !wire.IsHandshake(m.Buffer) {
			t.last = append(t.last[:0], m.Buffer...)
		}
	}
	t.mu.Unlock()
	t.next.HandleBatch(loop, msgs)
}

func (t *tap) lastPacket() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.last...)
}

// simNodeEndpoint is simNode that also returns the node's simnet endpoint
// and a tap on what the node receives.
func simNodeEndpoint(t *testing.T, nw *simnet.Network, addr string, cfg core.Config) (*core.Node, *simnet.Endpoint, *tap) {
	t.Helper()
	cfg.Clock = bubbleClock{}
	ap := netip.MustParseAddrPort(addr)
	var ep *simnet.Endpoint
	tp := &tap{}
	n, err := core.ListenDriver(func(h core.Handler) (core.Driver, error) {
		tp.next = h
		var err error
		ep, err = nw.Listen(ap, tp)
		return ep, err
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, ep, tp
}

// sink is a Handler that drops everything (a forger's socket).
type sink struct{}

func (sink) HandleBatch(int, []batchio.Message) {}

// TestNATRebinding moves the dialler behind a NAT rebinding mid-connection:
// the acceptor follows it to its new address once an authenticated packet
// arrives from there (session OnRemoteChange, then Table.SetAddr), and
// traffic continues both ways on the same connection. Packets from a third
// address that are not authentic and fresh (a replayed genuine packet, a
// tampered one) do not move it.
func TestNATRebinding(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 8, netem.Config{Delay: 5 * time.Millisecond})
		a, epA, _ := simNodeEndpoint(t, nw, "10.0.0.1:4000", core.Config{})
		b, _, tapB := simNodeEndpoint(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)
		if err := pumpMessages(ctx, ca, cb, 1, 20, 1500); err != nil {
			t.Fatal(err)
		}
		if cb.RemoteAddr() != a.Addr() {
			t.Fatalf("acceptor sees %v, want %v", cb.RemoteAddr(), a.Addr())
		}

		// A forger at a third address replays a genuine packet of a's, then
		// sends a tampered one with a fresh packet number.
		forger, err := nw.Listen(netip.MustParseAddrPort("10.0.0.66:4000"), sink{})
		if err != nil {
			t.Fatal(err)
		}
		genuine := tapB.lastPacket()
		h, hdrLen, err := wire.ParseShortHeader(genuine)
		if err != nil {
			t.Fatalf("tapped packet: %v", err)
		}
		tampered := append([]byte(nil), genuine...)
		for i := hdrLen - h.PNLen; i < hdrLen; i++ {
			tampered[i] = 0xff // a packet number never used: passes the replay check
		}
		before := cb.Stats()
		for _, d := range [][]byte{genuine, tampered} {
			if _, err := forger.WriteBatch([]batchio.Message{{Buffer: d, Addr: b.Addr()}}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		after := cb.Stats()
		if cb.RemoteAddr() != a.Addr() {
			t.Errorf("an unauthenticated packet from %v moved the connection to %v", forger.LocalAddr(), cb.RemoteAddr())
		}
		if p, _ := b.Table().Load(a.LocalKey()); p.Addr() != a.Addr() {
			t.Errorf("an unauthenticated packet moved the peer record to %v", p.Addr())
		}
		if after.DropsReplay != before.DropsReplay+1 || after.DropsAEAD != before.DropsAEAD+1 {
			t.Errorf("drops: replay %d -> %d, AEAD %d -> %d; want one more of each",
				before.DropsReplay, after.DropsReplay, before.DropsAEAD, after.DropsAEAD)
		}
		if err := forger.Close(); err != nil {
			t.Fatal(err)
		}

		// The NAT rebinds a: its next packet comes from the new address.
		moved := netip.MustParseAddrPort("192.0.2.7:61000")
		if err := epA.Rebind(moved); err != nil {
			t.Fatal(err)
		}
		if err := pumpMessages(ctx, ca, cb, 2, 20, 1500); err != nil {
			t.Fatalf("a -> b after the rebinding: %v", err)
		}
		if cb.RemoteAddr() != moved {
			t.Errorf("acceptor still sends to %v, want %v", cb.RemoteAddr(), moved)
		}
		if p, _ := b.Table().Load(a.LocalKey()); p.Addr() != moved {
			t.Errorf("peer record at %v, want %v", p.Addr(), moved)
		}
		// b's replies reach a only at the new address: the old one is gone.
		if err := pumpMessages(ctx, cb, ca, 3, 20, 1500); err != nil {
			t.Fatalf("b -> a after the rebinding: %v", err)
		}
		if !ca.IsAlive() || !cb.IsAlive() {
			t.Fatalf("the connection ended: %v / %v", ca.Err(), cb.Err())
		}
		if pb, _ := b.Table().Load(a.LocalKey()); pb.Session() != core.Session(cb) {
			t.Errorf("the rebinding replaced the connection")
		}
		if ca.RemoteAddr() != b.Addr() {
			t.Errorf("the dialler's view of b changed to %v", ca.RemoteAddr())
		}
	})
}
