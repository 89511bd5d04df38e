package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/netem"
)

// bubbleClock is the Node clock inside a synctest bubble.
type bubbleClock struct{}

func (bubbleClock) Now() monotime.Time { return simnet.BubbleClock() }

// simNetwork opens a simulated network, seeded, with imp on every link;
// the test's end closes it (after the nodes the test closes itself).
// Inside a synctest bubble.
func simNetwork(t *testing.T, seed uint64, imp netem.Config) *simnet.Network {
	t.Helper()
	nw, err := simnet.New(simnet.Config{Seed: seed, Default: imp, Clock: simnet.BubbleClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Close() })
	return nw
}

// simNode opens a node on the simulated network at addr.
func simNode(t *testing.T, nw *simnet.Network, addr string, cfg core.Config) *core.Node {
	t.Helper()
	cfg.Clock = bubbleClock{}
	ap := netip.MustParseAddrPort(addr)
	n, err := core.ListenDriver(func(h core.Handler) (core.Driver, error) {
		return nw.Listen(ap, h)
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// payload i of the stream seeded by seed: size in [1, maxSize], bytes from
// (seed, i), so the receiver checks every byte without a copy of the sender's.
func payload(seed uint64, i, maxSize int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	b := make([]byte, 1+r.IntN(maxSize))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// pump sends n messages on c while the peer's conn reads them, checking
// each arrives once, in order, intact.
func pumpMessages(ctx context.Context, from, to *core.Conn, seed uint64, n, maxSize int) error {
	errs := make(chan error, 2)
	go func() {
		for i := range n {
			if err := from.SendMessage(ctx, payload(seed, i, maxSize)); err != nil {
				errs <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for i := range n {
			got, err := to.ReceiveMessage(ctx)
			if err != nil {
				errs <- fmt.Errorf("receive %d: %w", i, err)
				return
			}
			if !bytes.Equal(got, payload(seed, i, maxSize)) {
				errs <- fmt.Errorf("message %d differs (%d bytes)", i, len(got))
				return
			}
		}
		errs <- nil
	}()
	return errors.Join(<-errs, <-errs)
}

// connect dials b from a and accepts on b.
func connect(t *testing.T, ctx context.Context, a, b *core.Node) (*core.Conn, *core.Conn) {
	t.Helper()
	var ca, cb *core.Conn
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ca, errA = a.Dial(ctx, b.Addr().String(), b.LocalKey()) }()
	go func() { defer wg.Done(); cb, errB = b.Accept(ctx) }()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("dial: %v, accept: %v", errA, errB)
	}
	if ca.RemoteKey() != b.LocalKey() || cb.RemoteKey() != a.LocalKey() {
		t.Fatalf("keys: dialler sees %v, acceptor sees %v", ca.RemoteKey(), cb.RemoteKey())
	}
	return ca, cb
}

func TestTransportMessagesOverSimnet(t *testing.T) {
	for _, tc := range []struct {
		name string
		imp  netem.Config
		n    int
		max  int
	}{
		{"clean", netem.Config{Delay: 2 * time.Millisecond}, 2000, 4096},
		{"lossy", netem.Config{Loss: 0.05, Delay: 10 * time.Millisecond, Jitter: 3 * time.Millisecond, JitterReorders: true, Duplicate: 0.01}, 300, 64 << 10},
		{"large", netem.Config{Delay: 5 * time.Millisecond, Loss: 0.01}, 8, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			synctest.Test(t, func(t *testing.T) {
				nw, err := simnet.New(simnet.Config{Seed: 11, Default: tc.imp, Clock: simnet.BubbleClock})
				if err != nil {
					t.Fatal(err)
				}
				defer nw.Close()
				a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
				b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
				defer b.Close()
				defer a.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // virtual
				defer cancel()
				ca, cb := connect(t, ctx, a, b)
				errs := make(chan error, 2)
				go func() { errs <- pumpMessages(ctx, ca, cb, 1, tc.n, tc.max) }()
				go func() { errs <- pumpMessages(ctx, cb, ca, 2, tc.n, tc.max) }()
				if err := errors.Join(<-errs, <-errs); err != nil {
					for _, c := range []*core.Conn{ca, cb} {
						st := c.Stats()
						t.Logf("conn end %v: sent %d recv %d retx %d lost %d ptos %d inflight %d cwnd %d rtt %v drops aead %d", c.Err(), st.PacketsSent, st.PacketsRecv, st.Retransmits, st.Lost, st.PTOs, st.InFlight, st.Cwnd, st.RTT, st.DropsAEAD)
					}
					t.Fatal(err)
				}
				// Invariant 1 at quiescence: nothing left in flight, and
				// the tracker released every byte it registered.
				for range 100 {
					if ca.Stats().InFlight == 0 && cb.Stats().InFlight == 0 {
						break
					}
					time.Sleep(100 * time.Millisecond) // virtual
				}
				for _, c := range []*core.Conn{ca, cb} {
					st := c.Stats()
					if st.InFlight != 0 || st.Tracker.SentBytes() != st.Tracker.ReleasedBytes() {
						t.Errorf("in flight %d at quiescence; tracker sent %d released %d", st.InFlight, st.Tracker.SentBytes(), st.Tracker.ReleasedBytes())
					}
				}
				t.Logf("A: %d pkts sent, %d retransmits, rtt %v, cwnd %d", ca.Stats().PacketsSent, ca.Stats().Retransmits, ca.Stats().RTT, ca.Stats().Cwnd)
			})
		})
	}
}

func TestTransportWrongKey(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 1, netem.Config{})
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{DialTimeout: 3 * time.Second})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		other, err := secure.GenerateKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Dial(context.Background(), b.Addr().String(), core.PeerKey(other.Public))
		var noAnswer *core.NoAnswerError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &noAnswer) || noAnswer.Attempts < 2 {
			t.Fatalf("dial with the wrong key: %v, want a NoAnswerError after retransmissions", err)
		}
		t.Log(err)
		if b.Stats().Transport.Drops.Handshake == 0 {
			t.Errorf("the responder did not count the initiation it could not open")
		}
	})
}

func TestTransportRestartedPeerAcceptedAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 1, netem.Config{Delay: time.Millisecond})
		kp, err := secure.GenerateKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{Transport: core.TransportConfig{Identity: &kp}})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		ctx := context.Background()
		ca, cb := connect(t, ctx, a, b)
		if err := pumpMessages(ctx, ca, cb, 1, 10, 100); err != nil {
			t.Fatal(err)
		}
		// A crashes: its node vanishes without a CLOSE reaching B.
		nw.Partition(a.Addr(), b.Addr())
		a.Close()
		nw.Heal(a.Addr(), b.Addr())
		kp2 := kp
		a2 := simNode(t, nw, "10.0.0.1:4000", core.Config{Transport: core.TransportConfig{Identity: &kp2}})
		defer a2.Close()
		start := time.Now()
		ca2, cb2 := connect(t, ctx, a2, b)
		if d := time.Since(start); d > time.Second {
			t.Errorf("the restarted peer waited %v to be accepted", d)
		}
		if cb.IsAlive() {
			t.Errorf("the old session survived the restarted peer's new one")
		}
		if err := pumpMessages(ctx, ca2, cb2, 2, 10, 100); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTransportSimultaneousDial(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 5, netem.Config{Delay: 5 * time.Millisecond})
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		ctx := context.Background()
		var ca, cb *core.Conn
		var errA, errB error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); ca, errA = a.Dial(ctx, b.Addr().String(), b.LocalKey()) }()
		go func() { defer wg.Done(); cb, errB = b.Dial(ctx, a.Addr().String(), a.LocalKey()) }()
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("dials: %v, %v", errA, errB)
		}
		time.Sleep(time.Second) // virtual: let the losing connection's close arrive
		pa, _ := a.Table().Load(b.LocalKey())
		pb, _ := b.Table().Load(a.LocalKey())
		sa, sb := pa.Session().(*core.Conn), pb.Session().(*core.Conn)
		if sa == nil || sb == nil || !sa.IsAlive() || !sb.IsAlive() {
			t.Fatalf("a side has no live session: %v %v", sa, sb)
		}
		if err := pumpMessages(ctx, sa, sb, 3, 20, 1000); err != nil {
			t.Fatalf("the sessions both sides kept do not talk to each other: %v", err)
		}
		_, _ = ca, cb
	})
}

// TestTransportRetransmittedInitiation: when the response is slower than
// the initiator's handshake RTO, the initiator sends a new initiation and
// completes only with the response to it (secure.Initiator forgets earlier
// ones), so the responder replaces the connection the first initiation
// made. Accept must hand out the connection the initiator completed, not
// the superseded one (found over loopback under -race: TestE2EMesh).
func TestTransportRetransmittedInitiation(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 3, netem.Config{})
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		// B's datagrams take longer than the initiator's first RTO to
		// reach A: the first initiation's response arrives after the
		// second initiation left.
		slow := core.DefaultHandshakeRTO + 200*time.Millisecond
		if err := nw.SetLink(b.Addr(), a.Addr(), netem.Config{Delay: slow}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)
		if err := pumpMessages(ctx, ca, cb, 1, 5, 100); err != nil {
			t.Fatalf("A to B: %v (accepted conn alive %v, err %v)", err, cb.IsAlive(), cb.Err())
		}
		if err := pumpMessages(ctx, cb, ca, 2, 5, 100); err != nil {
			t.Fatalf("B to A: %v (accepted conn alive %v, err %v)", err, cb.IsAlive(), cb.Err())
		}
	})
}
