package batchio

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawSocket opens a non-blocking IPv4 UDP socket on loopback, as an event
// loop would, and returns its fd and address.
func rawSocket(t *testing.T, flags int) (int, netip.AddrPort) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|flags, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
}

// TestFDMode drives a raw non-blocking socket: reads report ErrWouldBlock
// when it is empty, and Drain reads every datagram of a burst (waiting for
// readiness with poll(2), as an event loop does) until the socket is empty.
func TestFDMode(t *testing.T) {
	for _, gro := range []bool{false, true} {
		t.Run("gro="+onOff(gro), func(t *testing.T) {
			fd, dst := rawSocket(t, unix.SOCK_NONBLOCK)
			rx, err := NewFD(uintptr(fd), Config{DisableGRO: !gro})
			if err != nil {
				t.Fatal(err)
			}
			defer rx.Close()
			msgs := make([]Message, 16)
			if n, err := rx.ReadBatch(msgs); n != 0 || !errors.Is(err, ErrWouldBlock) || !errors.Is(err, syscall.EAGAIN) {
				t.Fatalf("ReadBatch on an empty socket = %d, %v; want ErrWouldBlock", n, err)
			}
			tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
			b := newBurst([]netip.AddrPort{dst, dst}, 1)
			if n, err := tx.WriteBatch(b.msgs); n != len(b.msgs) || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			seen := make(map[uint32]int)
			handle := func(ms []Message) {
				for _, m := range ms {
					seq, err := checkPayload(m.Buffer, b.sizeOf)
					if err != nil {
						t.Error(err)
					}
					seen[seq]++
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for got := 0; got < len(b.msgs); {
				pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				if _, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds())); err != nil && err != unix.EINTR {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("got %d of %d datagrams", got, len(b.msgs))
				}
				n, err := rx.Drain(msgs, handle)
				if err != nil {
					t.Fatal(err)
				}
				got += n
			}
			for seq := range b.msgs {
				if seen[uint32(seq)] != 1 {
					t.Fatalf("datagram %d arrived %d times", seq, seen[uint32(seq)])
				}
			}
			if n, err := rx.ReadBatch(msgs); n != 0 || !errors.Is(err, ErrWouldBlock) {
				t.Fatalf("ReadBatch after Drain = %d, %v; want ErrWouldBlock", n, err)
			}
			// Writes from fd mode reach a Conn in New mode.
			out := []Message{{Buffer: payload(make([]byte, 64), 7), Addr: tx.uc.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()}}
			if n, err := rx.WriteBatch(out); n != 1 || err != nil {
				t.Fatalf("fd-mode WriteBatch: %d, %v", n, err)
			}
			if seen, _, _ := receiveAll(t, tx, tx.uc, 1, func(uint32) int { return 64 }); seen[7] != 1 {
				t.Fatalf("fd-mode datagram not received: %v", seen)
			}
			if err := rx.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
				t.Fatalf("Close closed the caller's fd: %v", err)
			}
		})
	}
}

func TestNewFDRejects(t *testing.T) {
	blocking, _ := rawSocket(t, 0)
	if _, err := NewFD(uintptr(blocking), Config{}); err == nil {
		t.Fatal("NewFD accepted a blocking socket")
	}
	tcp, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tcp)
	if _, err := NewFD(uintptr(tcp), Config{}); err == nil {
		t.Fatal("NewFD accepted a TCP socket")
	}
	// A bad fd is reported as the failed system call (os.SyscallError).
	var serr *os.SyscallError
	if _, err := NewFD(^uintptr(0), Config{}); !errors.As(err, &serr) || !errors.Is(err, unix.EBADF) {
		t.Fatalf("NewFD(bad fd) = %T %v, want *os.SyscallError wrapping EBADF", err, err)
	}
	nb, _ := rawSocket(t, unix.SOCK_NONBLOCK)
	if _, err := NewFD(uintptr(nb), Config{BatchSize: MaxBatchSize + 1}); err == nil {
		t.Fatal("NewFD accepted an out-of-range BatchSize")
	}
}
