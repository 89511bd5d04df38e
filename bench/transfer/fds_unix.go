//go:build unix

package transfer

import (
	"fmt"
	"syscall"
)

// ensureFiles raises the soft limit of open files (RLIMIT_NOFILE) to the
// hard limit if it is below n (Go raises it at start on Linux already;
// this covers a shell that lowered it after), and fails if n cannot be
// had.
func ensureFiles(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	if lim.Max < n {
		return fmt.Errorf("%d open files needed, the hard limit (RLIMIT_NOFILE) is %d", n, lim.Max)
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
