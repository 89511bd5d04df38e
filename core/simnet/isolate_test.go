package simnet_test

import (
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/internal/netem"
)

// Isolate cuts an address off from everyone, both ways, in flight
// included, and leaves the other pairs alone; Rejoin restores it.
func TestIsolate(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{Delay: 5 * time.Millisecond})
		ra, rb, rc := newRecorder(), newRecorder(), newRecorder()
		a := listen(t, nw, addrA, ra)
		b := listen(t, nw, addrB, rb)
		c := listen(t, nw, addrC, rc)

		send(t, a, addrB, 0, 2, 10, 2) // in flight when b is isolated
		nw.Isolate(addrB)
		send(t, a, addrB, 2, 1, 10, 1) // to b
		send(t, b, addrA, 0, 1, 10, 1) // from b
		send(t, a, addrC, 0, 1, 10, 1) // a third pair still talks
		send(t, c, addrA, 1, 1, 10, 1)
		time.Sleep(time.Second)
		if n := len(rb.arrivals()); n != 0 {
			t.Errorf("an isolated address received %d datagrams", n)
		}
		if got := ra.arrivals(); len(got) != 1 || got[0].src != addrC {
			t.Errorf("a received %+v, want one datagram from c", got)
		}
		if n := len(rc.arrivals()); n != 1 {
			t.Errorf("c received %d datagrams, want 1", n)
		}
		if s := nw.Stats(); s.DroppedPartition != 4 {
			t.Errorf("DroppedPartition %d, want 4 (2 in flight, 1 to, 1 from)", s.DroppedPartition)
		}

		nw.Rejoin(addrB)
		nw.Rejoin(addrB) // a second Rejoin does nothing
		send(t, a, addrB, 3, 1, 10, 1)
		send(t, b, addrA, 1, 1, 10, 1)
		time.Sleep(time.Second)
		if got := rb.arrivals(); len(got) != 1 || seqOf(got[0].data) != 3 {
			t.Errorf("after Rejoin b received %+v", got)
		}
		if n := len(ra.arrivals()); n != 2 {
			t.Errorf("after Rejoin a has %d datagrams, want 2", n)
		}
		checkConservation(t, nw)
	})
}
