package batchio

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr (include/linux/socket.h): a msghdr followed by
// the byte count the kernel fills in. Go pads the struct to the msghdr's
// alignment exactly as C does (64 bytes on 64-bit, 32 on 32-bit).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// sysLayer is the system-call boundary of a Linux Conn: one recvmmsg or one
// sendmmsg over a prepared header vector (len(h) >= 1). Tests put fakes that
// fail on demand behind it.
type sysLayer interface {
	// recvmmsg fills up to len(h) headers and returns how many (>= 1). When
	// nothing is queued it parks in the poller if wait is true and the Conn
	// is in RawConn mode, and otherwise returns ErrWouldBlock.
	recvmmsg(h []mmsghdr, wait bool) (int, error)
	// sendmmsg sends a prefix of h and returns its length, which may be
	// shorter than len(h) without an error; an error concerns h[0]. raw
	// makes the system call without entering the scheduler (the caller
	// sized h to be short: sendcost.go). took is how long the system call
	// that sent the prefix ran, not counting any wait for the socket to
	// become writable; for a call made through the scheduler it includes
	// entersyscall and exitsyscall, which may wait for a P, so it errs
	// long (sendcost.go then plans shorter calls until it decays).
	sendmmsg(h []mmsghdr, raw bool) (n int, took time.Duration, err error)
	// drops reads the socket's receive-queue drop counter (socketDrops).
	// Calls are serialized by the Conn.
	drops() (uint32, error)
}

// recvmmsgFD is one recvmmsg(2) on a non-blocking fd, retried on EINTR;
// with single, one recvmsg(2) of h[0] (Config.DisableMmsg).
func recvmmsgFD(fd uintptr, h []mmsghdr, single bool) (int, syscall.Errno) {
	if single {
		return msgFD(unix.SYS_RECVMSG, fd, h, false)
	}
	return mmsgFD(unix.SYS_RECVMMSG, fd, h, false)
}

// sendmmsgFD is one sendmmsg(2) on a non-blocking fd, retried on EINTR,
// made raw (unix.RawSyscall6, without entering the scheduler) when raw is
// set, and timed; with single, one sendmsg(2) of h[0] (Config.DisableMmsg).
func sendmmsgFD(fd uintptr, h []mmsghdr, raw, single bool) (int, time.Duration, syscall.Errno) {
	start := time.Now()
	var n int
	var e syscall.Errno
	if single {
		n, e = msgFD(unix.SYS_SENDMSG, fd, h, raw)
	} else {
		n, e = mmsgFD(unix.SYS_SENDMMSG, fd, h, raw)
	}
	return n, time.Since(start), e
}

// mmsgFD is one recvmmsg(2) or sendmmsg(2) (trap) with MSG_DONTWAIT over h,
// retried on EINTR. The two calls take the same arguments. MSG_DONTWAIT
// makes the call safe to make raw: it never waits for buffer space or
// data, so never for anything another goroutine of this process must do
// first. (The kernel may still fault in a user page or be preempted, which
// only holds the P longer; sendcost.go measures that too.)
//
// Both system calls are called directly, with the pointer converted to
// uintptr in the call expression (unsafe.Pointer rule 4): called through a
// function value, the compiler would not know to keep h's array alive and
// in place for the call.
func mmsgFD(trap, fd uintptr, h []mmsghdr, raw bool) (int, syscall.Errno) {
	for {
		var n uintptr
		var e syscall.Errno
		if raw {
			n, _, e = unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&h[0])), uintptr(len(h)), unix.MSG_DONTWAIT, 0, 0)
		} else {
			n, _, e = unix.Syscall6(trap, fd, uintptr(unsafe.Pointer(&h[0])), uintptr(len(h)), unix.MSG_DONTWAIT, 0, 0)
		}
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), 0
	}
}

// msgFD is mmsgFD with one datagram per call: one recvmsg(2) or
// sendmsg(2) (trap) of h[0].hdr with MSG_DONTWAIT, retried on EINTR. It
// stores the byte count in h[0].len, where recvmmsg and sendmmsg put it,
// and returns 1 header done. The pointer is converted in the call
// expression for the reason mmsgFD gives.
func msgFD(trap, fd uintptr, h []mmsghdr, raw bool) (int, syscall.Errno) {
	for {
		var n uintptr
		var e syscall.Errno
		if raw {
			n, _, e = unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&h[0].hdr)), unix.MSG_DONTWAIT)
		} else {
			n, _, e = unix.Syscall(trap, fd, uintptr(unsafe.Pointer(&h[0].hdr)), unix.MSG_DONTWAIT)
		}
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		h[0].len = uint32(n)
		return 1, 0
	}
}

// rawConnSys drives a *net.UDPConn's socket through syscall.RawConn, so a
// call that would block parks in Go's poller.
//
// Guard map: rc, single, readFn, peekFn, writeFn and dropsFn are immutable after
// newRawConnSys (the callbacks are method values bound once, so no closure
// is allocated per call). rh, rn, rerr are the reader's and are touched
// only under the Conn's read mutex; wh, wn, werr likewise under its write
// mutex; dn, derr under its stats mutex.
type rawConnSys struct {
	rc      syscall.RawConn
	single  bool // one datagram per call: recvmsg/sendmsg (Config.DisableMmsg)
	readFn  func(fd uintptr) bool
	peekFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
	dropsFn func(fd uintptr)

	dn   uint32
	derr error

	rh   []mmsghdr
	rn   int
	rerr syscall.Errno

	wh    []mmsghdr
	wraw  bool
	wn    int
	wtook time.Duration
	werr  syscall.Errno
}

func newRawConnSys(rc syscall.RawConn, single bool) *rawConnSys {
	s := &rawConnSys{rc: rc, single: single}
	s.readFn = s.doRead
	s.peekFn = s.doPeek
	s.writeFn = s.doWrite
	s.dropsFn = s.doDrops
	return s
}

func (s *rawConnSys) doDrops(fd uintptr) { s.dn, s.derr = socketDrops(int(fd)) }

func (s *rawConnSys) drops() (uint32, error) {
	if err := s.rc.Control(s.dropsFn); err != nil {
		return 0, err
	}
	return s.dn, s.derr
}

func (s *rawConnSys) doRead(fd uintptr) bool {
	s.rn, s.rerr = recvmmsgFD(fd, s.rh, s.single)
	return s.rerr != unix.EAGAIN
}

// doPeek is doRead without waiting: EAGAIN ends the callback too.
func (s *rawConnSys) doPeek(fd uintptr) bool {
	s.rn, s.rerr = recvmmsgFD(fd, s.rh, s.single)
	return true
}

func (s *rawConnSys) doWrite(fd uintptr) bool {
	s.wn, s.wtook, s.werr = sendmmsgFD(fd, s.wh, s.wraw, s.single)
	return s.werr != unix.EAGAIN
}

func (s *rawConnSys) recvmmsg(h []mmsghdr, wait bool) (int, error) {
	s.rh = h
	fn := s.peekFn
	if wait {
		fn = s.readFn
	}
	err := s.rc.Read(fn)
	s.rh = nil
	if err != nil {
		return 0, err
	}
	if s.rerr == unix.EAGAIN {
		return 0, ErrWouldBlock
	}
	if s.rerr != 0 {
		return 0, os.NewSyscallError("recvmmsg", s.rerr)
	}
	return s.rn, nil
}

func (s *rawConnSys) sendmmsg(h []mmsghdr, raw bool) (int, time.Duration, error) {
	s.wh, s.wraw = h, raw
	err := s.rc.Write(s.writeFn)
	s.wh = nil
	if err != nil {
		return 0, 0, err
	}
	if s.werr != 0 {
		return 0, s.wtook, os.NewSyscallError("sendmmsg", s.werr)
	}
	return s.wn, s.wtook, nil
}

// fdSys drives a non-blocking socket owned by someone else (an event loop).
// It never blocks: EAGAIN becomes ErrWouldBlock. It is immutable. single
// makes each call move one datagram (recvmsg/sendmsg, Config.DisableMmsg).
type fdSys struct {
	fd     uintptr
	single bool
}

func (s fdSys) recvmmsg(h []mmsghdr, _ bool) (int, error) {
	n, e := recvmmsgFD(s.fd, h, s.single)
	switch e {
	case 0:
		return n, nil
	case unix.EAGAIN:
		return 0, ErrWouldBlock
	}
	return 0, os.NewSyscallError("recvmmsg", e)
}

func (s fdSys) sendmmsg(h []mmsghdr, raw bool) (int, time.Duration, error) {
	n, took, e := sendmmsgFD(s.fd, h, raw, s.single)
	switch e {
	case 0:
		return n, took, nil
	case unix.EAGAIN:
		return 0, took, ErrWouldBlock
	}
	return 0, took, os.NewSyscallError("sendmmsg", e)
}

func (s fdSys) drops() (uint32, error) { return socketDrops(int(s.fd)) }
