//go:build unix

package loop

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortControl is a net.ListenConfig Control that sets SO_REUSEPORT
// (socket(7)) before bind, so Loops sockets can share one port and the
// kernel spreads datagrams over them by a hash of the 4-tuple
// (net/core/sock_reuseport.c reuseport_select_sock).
func reusePortControl(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("setsockopt", serr)
	}
	return nil
}
