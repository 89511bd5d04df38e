package simnet_test

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/netem"
)

// Close ends every goroutine; a closed endpoint refuses writes with an
// error matching net.ErrClosed, frees its address, and drops what was in
// flight to it; Listen refuses a used address and a closed Network.
func TestCloseAndListen(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		nw, err := simnet.New(simnet.Config{Default: netem.Config{Delay: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		a := listen(t, nw, addrA, newRecorder())
		rb := newRecorder()
		b := listen(t, nw, addrB, rb)
		if _, err := nw.Listen(addrB, newRecorder()); !errors.Is(err, simnet.ErrAddrInUse) {
			t.Errorf("Listen on a used address: %v", err)
		}
		if _, err := nw.Listen(mustAP("[::ffff:10.0.0.2]:4000"), newRecorder()); !errors.Is(err, simnet.ErrAddrInUse) {
			t.Errorf("Listen on a used address, IPv4-mapped: %v", err)
		}

		send(t, a, addrB, 0, 3, 10, 3) // in flight when b closes
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := b.WriteBatch([]batchio.Message{{Buffer: []byte("x"), Addr: addrA}}); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteBatch after Close: %v, want net.ErrClosed", err)
		}
		time.Sleep(time.Second)
		if len(rb.arrivals()) != 0 {
			t.Errorf("a closed endpoint received %d datagrams", len(rb.arrivals()))
		}
		if s := nw.Stats(); s.DroppedClosed != 3 {
			t.Errorf("DroppedClosed %d, want 3", s.DroppedClosed)
		}

		// The address is free again: a restarted node listens there.
		rb2 := newRecorder()
		listen(t, nw, addrB, rb2)
		send(t, a, addrB, 0, 1, 10, 1)
		time.Sleep(time.Second)
		if len(rb2.arrivals()) != 1 {
			t.Errorf("the new endpoint at b received %d datagrams", len(rb2.arrivals()))
		}
		checkConservation(t, nw)

		if err := nw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := nw.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := a.WriteBatch(nil); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteBatch after Network.Close: %v", err)
		}
		if _, err := nw.Listen(addrC, newRecorder()); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Listen after Network.Close: %v", err)
		}
	})
}

// Close waits for a HandleBatch call in progress, and no call starts after
// it returns.
func TestCloseWaitsForHandler(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{})
		a := listen(t, nw, addrA, newRecorder())
		h := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
		b := listen(t, nw, addrB, h)
		send(t, a, addrB, 0, 1, 10, 1)
		<-h.entered
		send(t, a, addrB, 1, 1, 10, 1) // due now, behind the blocked call

		var closed atomic.Bool
		go func() {
			b.Close()
			closed.Store(true)
		}()
		synctest.Wait()
		if closed.Load() {
			t.Fatal("Close returned while HandleBatch was running")
		}
		close(h.release)
		synctest.Wait()
		if !closed.Load() {
			t.Fatal("Close did not return after HandleBatch did")
		}
		if n := h.calls.Load(); n != 1 {
			t.Errorf("%d HandleBatch calls, want 1", n)
		}
	})
}

// blocker's first HandleBatch call blocks until release is closed.
type blocker struct {
	entered, release chan struct{}
	calls            atomic.Int32
}

func (h *blocker) HandleBatch(int, []batchio.Message) {
	if h.calls.Add(1) == 1 {
		close(h.entered)
		<-h.release
	}
}

// Close from inside the endpoint's own Handler, or Network.Close from
// inside any Handler, returns at once, and no call follows.
func TestCloseFromHandler(t *testing.T) {
	for _, tc := range []struct {
		name    string
		network bool
	}{
		{"Endpoint.Close", false},
		{"Network.Close", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			synctest.Test(t, func(t *testing.T) {
				nw := newNet(t, 1, netem.Config{Delay: time.Millisecond})
				a := listen(t, nw, addrA, newRecorder())
				h := &closer{nw: nw, network: tc.network}
				h.e = listen(t, nw, addrB, h)
				send(t, a, addrB, 0, 1, 10, 1) // due at 1ms: closes
				time.Sleep(time.Millisecond / 2)
				send(t, a, addrB, 1, 2, 10, 2) // due at 1.5ms
				time.Sleep(time.Second)
				if n := h.calls.Load(); n != 1 {
					t.Errorf("%d HandleBatch calls, want 1", n)
				}
				if s := nw.Stats(); s.DroppedClosed != 2 {
					t.Errorf("DroppedClosed %d, want 2", s.DroppedClosed)
				}
				if tc.network {
					if _, err := a.WriteBatch(nil); !errors.Is(err, net.ErrClosed) {
						t.Errorf("a is still open after Network.Close: %v", err)
					}
				}
			})
		})
	}
}

// closer closes its endpoint, or the whole Network, from HandleBatch.
type closer struct {
	nw      *simnet.Network
	e       *simnet.Endpoint
	network bool
	calls   atomic.Int32
}

func (h *closer) HandleBatch(int, []batchio.Message) {
	h.calls.Add(1)
	if h.network {
		h.nw.Close()
	} else {
		h.e.Close()
	}
	if _, err := h.e.WriteBatch(nil); !errors.Is(err, net.ErrClosed) {
		panic("WriteBatch after Close from the Handler: " + err.Error())
	}
}

// New and SetLink refuse invalid impairments; Listen refuses invalid
// addresses and a nil Handler.
func TestInvalid(t *testing.T) {
	bad := netem.Config{Loss: 2}
	if _, err := simnet.New(simnet.Config{Default: bad}); !errors.Is(err, netem.ErrConfig) {
		t.Errorf("New with Loss 2: %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		nw := newNet(t, 1, netem.Config{})
		if err := nw.SetLink(addrA, addrB, bad); !errors.Is(err, netem.ErrConfig) {
			t.Errorf("SetLink with Loss 2: %v", err)
		}
		for _, ap := range []string{"10.0.0.1:0", ""} {
			var addr = mustAPOrZero(ap)
			if _, err := nw.Listen(addr, newRecorder()); err == nil {
				t.Errorf("Listen(%q) succeeded", ap)
			}
		}
		if _, err := nw.Listen(addrA, nil); err == nil {
			t.Error("Listen with a nil Handler succeeded")
		}
	})
}
