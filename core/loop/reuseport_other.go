//go:build !unix

package loop

import (
	"errors"
	"fmt"
	"syscall"
)

// reusePortControl fails: this platform has no SO_REUSEPORT, so a driver
// gets one socket (Loops 1) or none.
func reusePortControl(_, _ string, _ syscall.RawConn) error {
	return fmt.Errorf("loop: SO_REUSEPORT: %w", errors.ErrUnsupported)
}
