package batchio

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stallSys wraps a syscall layer and parks every call inside it until
// release is closed, so a test can act while a system call is in flight.
type stallSys struct {
	real    sysLayer
	entered chan struct{} // receives once per call that entered
	release chan struct{}
	calls   int
}

func (s *stallSys) recvmmsg(h []mmsghdr, wait bool) (int, error) {
	s.calls++
	s.entered <- struct{}{}
	<-s.release
	return s.real.recvmmsg(h, wait)
}

func (s *stallSys) sendmmsg(h []mmsghdr, raw bool) (int, time.Duration, error) {
	s.calls++
	s.entered <- struct{}{}
	<-s.release
	return s.real.sendmmsg(h, raw)
}

func (s *stallSys) drops() (uint32, error) {
	s.calls++
	s.entered <- struct{}{}
	<-s.release
	return s.real.drops()
}

// TestCloseWaitsForSyscalls checks, in fd mode, that Close does not return
// while a system call on the caller's fd is in flight: the fd's owner closes
// it once Close returns, and a call still running (or about to start) would
// then act on a closed fd, or on whatever socket or file reuses its number.
// The call that was in flight reports ErrClosed, and later calls never
// reach the kernel.
func TestCloseWaitsForSyscalls(t *testing.T) {
	tests := []struct {
		name string
		call func(c *Conn) error
		// sends: the call in flight completes its send (the datagram left
		// before Close returned) and reports success; a read of the empty
		// socket reports ErrClosed, not ErrWouldBlock.
		sends bool
		// meminfo: the call reaches the kernel only where Stats reads the
		// drop counter with SO_MEMINFO.
		meminfo bool
	}{
		{"ReadBatch", func(c *Conn) error {
			_, err := c.ReadBatch(make([]Message, 4))
			return err
		}, false, false},
		{"Drain", func(c *Conn) error {
			_, err := c.Drain(make([]Message, 4), func([]Message) {})
			return err
		}, false, false},
		{"WriteBatch", func(c *Conn) error {
			_, err := c.WriteBatch([]Message{{Buffer: []byte("x"), Addr: addrA}})
			return err
		}, true, false},
		// Stats reads the drop counter with getsockopt on the fd; it
		// returns no error, so the case reports whether Close had begun.
		{"Stats", func(c *Conn) error {
			c.Stats()
			if c.closed.Load() {
				return ErrClosed
			}
			return nil
		}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, _ := rawSocket(t, unix.SOCK_NONBLOCK)
			c, err := NewFD(uintptr(fd), Config{BatchSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			if tt.meminfo && !c.meminfo {
				c.Close()
				t.Skip("kernel whose SO_MEMINFO has no drop counter")
			}
			s := &stallSys{real: c.sys, entered: make(chan struct{}, 1), release: make(chan struct{})}
			c.sys = s
			defer func() {
				select {
				case <-s.release:
				default:
					close(s.release) // let the call finish if the test failed early
				}
			}()
			callErr := make(chan error, 1)
			go func() { callErr <- tt.call(c) }()
			<-s.entered

			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			// Wait until Close has begun (a loaded scheduler may not have run
			// it yet), so the in-flight call can only end after it.
			for deadline := time.Now().Add(10 * time.Second); !c.closed.Load(); runtime.Gosched() {
				if time.Now().After(deadline) {
					t.Fatal("Close never began")
				}
			}
			// Close must stay blocked while the call is in the kernel.
			// A bounded number of scheduler rounds is ample for a Close
			// that does not wait to return; one that waits never does.
			for range 2000 {
				select {
				case <-closed:
					t.Fatal("Close returned while a system call on the fd was in flight")
				default:
					runtime.Gosched()
				}
			}
			close(s.release)
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := <-callErr; !(tt.sends && err == nil) && !errors.Is(err, ErrClosed) {
				t.Fatalf("call in flight during Close returned %v, want ErrClosed", err)
			}
			calls := s.calls
			if err := tt.call(c); !errors.Is(err, ErrClosed) {
				t.Fatalf("call after Close returned %v, want ErrClosed", err)
			}
			if s.calls != calls {
				t.Fatal("a call after Close reached the kernel")
			}
		})
	}
}

// TestCloseWakesParkedCalls checks, in New mode, that a ReadBatch that
// reached the socket (and parks in the poller for data that never comes) is
// woken by Close and returns ErrClosed, not the poller's own error.
func TestCloseWakesParkedCalls(t *testing.T) {
	c, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	s := &stallSys{real: c.sys, entered: make(chan struct{}, 1), release: make(chan struct{})}
	close(s.release) // no stall: only report the entry
	c.sys = s
	done := make(chan error, 1)
	go func() {
		_, err := c.ReadBatch(make([]Message, 4))
		done <- err
	}()
	<-s.entered
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadBatch woken by Close returned %v, want ErrClosed", err)
	}
}

// TestCloseFromDrainHandler checks that a Drain handler may close the Conn
// (as an event loop does on a fatal peer error) without deadlocking, and
// that Drain then stops with ErrClosed.
func TestCloseFromDrainHandler(t *testing.T) {
	rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	if n, err := tx.WriteBatch([]Message{{Buffer: payload(make([]byte, 100), 1), Addr: dst}}); n != 1 || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	var closeErr error
	n, err := rx.Drain(make([]Message, 4), func([]Message) { closeErr = rx.Close() })
	if n != 1 || !errors.Is(err, ErrClosed) || closeErr != nil {
		t.Fatalf("Drain = %d, %v (Close: %v); want 1, ErrClosed", n, err, closeErr)
	}
}
