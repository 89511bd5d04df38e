package core_test

import (
	"context"
	"crypto/rand"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// TestReplayAfterStampEviction: an attacker who captured a peer's
// initiation first makes the responder authenticate more throwaway keys
// than its timestamp LRU holds (lowered to 4 here; 16,384 by default, a
// few seconds of handshakes), which evicts the real peer's timestamp, then
// replays the captured initiation. The responder must still refuse it (the
// timestamp kept in the peer's record), and the peer's live connection,
// which a new connection from the same key would replace, must survive.
func TestReplayAfterStampEviction(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	defer core.SetReplayTableLimit(4)()
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 9, netem.Config{Delay: time.Millisecond})
		var wireA *wireTap
		a, err := core.ListenDriver(func(h core.Handler) (core.Driver, error) {
			ep, err := nw.Listen(netip.MustParseAddrPort("10.0.0.1:4000"), h)
			if err != nil {
				return nil, err
			}
			wireA = &wireTap{Driver: ep}
			return wireA, nil
		}, core.Config{Clock: bubbleClock{}})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		attacker, err := nw.Listen(netip.MustParseAddrPort("10.6.6.6:666"), sink{})
		if err != nil {
			t.Fatal(err)
		}
		defer attacker.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)
		var captured []byte
		for _, d := range wireA.captured() {
			if secure.IsInitiation(d) {
				captured = d
			}
		}
		if captured == nil {
			t.Fatal("no initiation captured")
		}

		p := wire.DefaultTransportParams()
		params, err := wire.AppendTransportParams(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		send := func(d []byte) {
			if _, err := attacker.WriteBatch([]batchio.Message{{Buffer: d, Addr: b.Addr()}}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 8 { // twice the LRU
			kp, err := secure.GenerateKeyPair(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ini, err := secure.NewInitiator(secure.InitiatorConfig{Static: &kp, Peer: secure.PublicKey(b.LocalKey()),
				ConnID: secure.ConnID{byte(i), 9}, Payload: params})
			if err != nil {
				t.Fatal(err)
			}
			d, err := ini.Initiation(nil, time.Now(), monotime.Now())
			ini.Close()
			if err != nil {
				t.Fatal(err)
			}
			send(d)
		}
		time.Sleep(10 * time.Millisecond) // virtual: delivered
		before := b.Stats().Transport.Drops.Handshake
		send(captured)
		time.Sleep(100 * time.Millisecond) // virtual: delivered, and any replacement done
		if got := b.Stats().Transport.Drops.Handshake; got != before+1 {
			t.Errorf("the replayed initiation was not refused: handshake drops %d -> %d", before, got)
		}
		if !cb.IsAlive() {
			t.Fatalf("a replayed initiation ended the peer's live connection: %v", cb.Err())
		}
		if err := pumpMessages(ctx, ca, cb, 3, 20, 1000); err != nil {
			t.Fatalf("after the replay: %v", err)
		}
	})
}
