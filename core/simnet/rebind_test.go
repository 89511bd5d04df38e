package simnet_test

import (
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/netem"
)

// Rebind moves where an endpoint's datagrams come from and where they are
// routed to it, without the endpoint's own address changing; its old
// public address reaches nothing.
func TestRebind(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: 5 * time.Millisecond})
		ra, rb := newRecorder(), newRecorder()
		a := listen(t, nw, addrA, ra)
		b := listen(t, nw, addrB, rb)
		moved := mustAP("192.0.2.7:61000")

		send(t, a, addrB, 0, 2, 10, 2) // in flight across the rebinding
		if err := a.Rebind(moved); err != nil {
			t.Fatal(err)
		}
		if a.LocalAddr() != addrA || a.PublicAddr() != moved {
			t.Errorf("after Rebind: LocalAddr %v, PublicAddr %v; want %v, %v", a.LocalAddr(), a.PublicAddr(), addrA, moved)
		}
		send(t, a, addrB, 2, 2, 10, 2)
		send(t, b, moved, 0, 1, 10, 1) // reaches a at its new address
		send(t, b, addrA, 1, 1, 10, 1) // reaches nothing
		time.Sleep(time.Second)

		got := rb.arrivals()
		if len(got) != 4 {
			t.Fatalf("b received %d datagrams, want 4", len(got))
		}
		for i, g := range got {
			want := addrA
			if i >= 2 {
				want = moved
			}
			if seqOf(g.data) != uint32(i) || g.src != want {
				t.Errorf("datagram %d: seq %d from %v, want from %v", i, seqOf(g.data), g.src, want)
			}
		}
		if got := ra.arrivals(); len(got) != 1 || seqOf(got[0].data) != 0 || got[0].local != addrA.Addr() {
			t.Errorf("a received %+v, want datagram 0 with Local %v", got, addrA.Addr())
		}
		if s := nw.Stats(); s.DroppedNoEndpoint != 1 {
			t.Errorf("DroppedNoEndpoint %d, want 1 (the datagram to the old address)", s.DroppedNoEndpoint)
		}

		// Partitions and links follow the public address.
		nw.Partition(moved, addrB)
		send(t, a, addrB, 4, 1, 10, 1)
		time.Sleep(time.Second)
		if n := len(rb.arrivals()); n != 4 {
			t.Errorf("a datagram crossed the partition of the new address")
		}
		nw.Heal(moved, addrB)

		// Rebind back to the listen address undoes it.
		if err := a.Rebind(addrA); err != nil {
			t.Fatal(err)
		}
		send(t, a, addrB, 5, 1, 10, 1)
		time.Sleep(time.Second)
		if got := rb.arrivals(); len(got) != 5 || got[4].src != addrA {
			t.Errorf("after rebinding back: %d arrivals, last from %v", len(got), got[len(got)-1].src)
		}
		checkConservation(t, nw)
	})
}

// Rebind refuses an address another endpoint is reachable at and a closed
// endpoint; the freed address can be listened on, and Close frees the
// public address, not the listen address another endpoint took.
func TestRebindConflicts(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		nw, err := simnet.New(simnet.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer nw.Close()
		a := listen(t, nw, addrA, newRecorder())
		listen(t, nw, addrB, newRecorder())
		if err := a.Rebind(addrB); !errors.Is(err, simnet.ErrAddrInUse) {
			t.Errorf("Rebind onto a listening endpoint: %v", err)
		}
		if err := a.Rebind(mustAP("10.0.0.9:0")); err == nil {
			t.Errorf("Rebind to port 0 succeeded")
		}
		moved := mustAP("[::ffff:192.0.2.7]:61000") // taken as IPv4
		if err := a.Rebind(moved); err != nil {
			t.Fatal(err)
		}
		if a.PublicAddr() != mustAP("192.0.2.7:61000") {
			t.Errorf("PublicAddr %v", a.PublicAddr())
		}
		if _, err := nw.Listen(mustAP("192.0.2.7:61000"), newRecorder()); !errors.Is(err, simnet.ErrAddrInUse) {
			t.Errorf("Listen on a rebound address: %v", err)
		}
		c := listen(t, nw, addrA, newRecorder()) // a's listen address is free
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Rebind(mustAP("192.0.2.8:1")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Rebind after Close: %v", err)
		}
		listen(t, nw, mustAP("192.0.2.7:61000"), newRecorder()) // freed by a's Close
		if err := c.Rebind(addrA); err != nil {
			t.Errorf("Rebind to its own address: %v", err)
		}
	})
}
