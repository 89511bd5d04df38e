package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// disconnects records the reasons Config.OnDisconnect reports.
type disconnects struct {
	mu  sync.Mutex
	why []error
}

func (d *disconnects) record(_ *core.Peer, _ core.Session, reason error) {
	d.mu.Lock()
	d.why = append(d.why, reason)
	d.mu.Unlock()
}

func (d *disconnects) reasons() []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.why...)
}

// TestPartitionHeals cuts an exchanging pair apart for 30 s of virtual time
// and heals it. The nodes' idle timeout is 60 s (keepalive 10 s), twice the
// partition, so the session must survive it: the 30 s default would end it
// exactly when the partition ends. What was sent meanwhile is delivered
// once, in order, on the same connection, and the sender's stats show the
// probe timeouts and retransmissions the silence caused.
func TestPartitionHeals(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 3, netem.Config{Delay: 10 * time.Millisecond})
		var dA, dB disconnects
		cfg := core.Config{IdleTimeout: 60 * time.Second, KeepaliveInterval: 10 * time.Second}
		cfgA, cfgB := cfg, cfg
		cfgA.OnDisconnect, cfgB.OnDisconnect = dA.record, dB.record
		a := simNode(t, nw, "10.0.0.1:4000", cfgA)
		b := simNode(t, nw, "10.0.0.2:4000", cfgB)
		defer b.Close()
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)
		if err := pumpMessages(ctx, ca, cb, 1, 50, 2000); err != nil {
			t.Fatal(err)
		}
		before := ca.Stats()

		const partition = 30 * time.Second
		const n = 40
		nw.Partition(a.Addr(), b.Addr())
		cut := time.Now()
		// The messages go out while the path is cut: SendMessage returns
		// once every byte left once, so the writer finishes (the window
		// holds 40 small messages) and the data waits in retransmissions.
		for i := range n {
			if err := ca.SendMessage(ctx, payload(7, i, 1000)); err != nil {
				t.Fatalf("send %d during the partition: %v", i, err)
			}
		}
		time.Sleep(partition - time.Since(cut))
		during := ca.Stats()
		if !ca.IsAlive() || !cb.IsAlive() {
			t.Fatalf("a session died during a %v partition under a 60 s idle timeout: %v / %v", partition, ca.Err(), cb.Err())
		}
		if during.PTOs == before.PTOs || during.Retransmits == before.Retransmits {
			t.Errorf("no probe timeouts or retransmissions during the partition: PTOs %d -> %d, retransmits %d -> %d",
				before.PTOs, during.PTOs, before.Retransmits, during.Retransmits)
		}
		if s := nw.Stats(); s.DroppedPartition == 0 {
			t.Errorf("simnet dropped nothing at the partition: %+v", s)
		}
		nw.Heal(a.Addr(), b.Addr())
		healed := time.Now()

		for i := range n {
			got, err := cb.ReceiveMessage(ctx)
			if err != nil {
				t.Fatalf("receive %d after the heal: %v", i, err)
			}
			if want := payload(7, i, 1000); string(got) != string(want) {
				t.Fatalf("message %d after the heal differs (%d bytes, want %d)", i, len(got), len(want))
			}
		}
		// Nothing tells the sender the path is back but its next probe
		// timeout, which exponential backoff (RFC 9002 section 6.2.1) has
		// pushed out to about the partition's length again: the node's
		// keepalive PINGs queue behind the retransmissions in the collapsed
		// window. The bound is the idle timeout: the peer's keepalives keep
		// the session alive meanwhile.
		if d := time.Since(healed); d >= cfg.IdleTimeout {
			t.Errorf("the pending messages took %v after the heal", d)
		}
		t.Logf("pending messages delivered %v after the heal; sender PTOs %d retransmits %d lost %d during the partition",
			time.Since(healed), during.PTOs-before.PTOs, during.Retransmits-before.Retransmits, during.Lost-before.Lost)
		// Once: nothing more arrives (a duplicate would be a 41st message).
		short, stop := context.WithTimeout(ctx, 5*time.Second)
		if extra, err := cb.ReceiveMessage(short); err == nil {
			t.Errorf("a message arrived twice or out of nowhere (%d bytes)", len(extra))
		}
		stop()
		// The same connection carries on, both ways.
		for _, c := range [][2]*core.Conn{{ca, cb}, {cb, ca}} {
			if err := pumpMessages(ctx, c[0], c[1], 9, 20, 1500); err != nil {
				t.Fatalf("the healed connection does not carry traffic: %v", err)
			}
		}
		pa, _ := a.Table().Load(b.LocalKey())
		pb, _ := b.Table().Load(a.LocalKey())
		if pa.Session() != core.Session(ca) || pb.Session() != core.Session(cb) {
			t.Errorf("the connection changed across the partition")
		}
		if r := append(dA.reasons(), dB.reasons()...); len(r) != 0 {
			t.Errorf("disconnects during a healed partition: %v", r)
		}
	})
}

// isIdleTimeout reports whether err is an idle timeout, as the session
// (session.ErrIdleTimeout) or the node's reaper (core.ErrIdleTimeout)
// reports it.
func isIdleTimeout(err error) bool {
	return errors.Is(err, session.ErrIdleTimeout) || errors.Is(err, core.ErrIdleTimeout)
}

// TestPartitionOutlastsIdleTimeout cuts a connected pair apart for longer
// than the idle timeout: both sides end the session with the idle-timeout
// error, and once the path heals a new dial connects at once.
func TestPartitionOutlastsIdleTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		nw := simNetwork(t, 4, netem.Config{Delay: 10 * time.Millisecond})
		const idle = 20 * time.Second
		var dA, dB disconnects
		cfg := core.Config{IdleTimeout: idle, KeepaliveInterval: 5 * time.Second}
		cfgA, cfgB := cfg, cfg
		cfgA.OnDisconnect, cfgB.OnDisconnect = dA.record, dB.record
		a := simNode(t, nw, "10.0.0.1:4000", cfgA)
		b := simNode(t, nw, "10.0.0.2:4000", cfgB)
		defer b.Close()
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)
		if err := pumpMessages(ctx, ca, cb, 1, 10, 500); err != nil {
			t.Fatal(err)
		}
		nw.Partition(a.Addr(), b.Addr())
		cut := time.Now()
		// Both sides park a reader: it must wake with the end.
		errs := make(chan error, 2)
		for _, c := range []*core.Conn{ca, cb} {
			go func() {
				_, err := c.ReceiveMessage(ctx)
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err == nil {
				t.Errorf("a parked reader woke with a message across the partition")
			}
		}
		if d := time.Since(cut); d < idle || d > idle+time.Second {
			t.Errorf("the sessions ended %v after the cut, want about the %v idle timeout", d, idle)
		}
		// The readers wake as a session ends; its disconnect callback runs
		// just after, on the goroutine that ended it. Let it finish.
		time.Sleep(time.Millisecond) // virtual
		for _, side := range []struct {
			name string
			c    *core.Conn
			d    *disconnects
		}{{"dialler", ca, &dA}, {"acceptor", cb, &dB}} {
			if side.c.IsAlive() {
				t.Errorf("%s: the session outlived the idle timeout", side.name)
			}
			r := side.d.reasons()
			if len(r) != 1 || !isIdleTimeout(r[0]) {
				t.Errorf("%s: disconnect reasons %v, want one idle timeout", side.name, r)
			}
			if side.c.Err() == nil {
				t.Errorf("%s: a dead connection reports no error", side.name)
			}
			t.Logf("%s: conn err %v, disconnect reason %v", side.name, side.c.Err(), r)
		}
		nw.Heal(a.Addr(), b.Addr())
		ca2, cb2 := connect(t, ctx, a, b)
		if ca2 == ca || cb2 == cb {
			t.Fatalf("the redial returned the dead connection")
		}
		if err := pumpMessages(ctx, ca2, cb2, 2, 20, 1000); err != nil {
			t.Fatalf("after the redial: %v", err)
		}
	})
}
