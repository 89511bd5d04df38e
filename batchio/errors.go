package batchio

import (
	"errors"
	"net"
	"syscall"
)

// ErrClosed is returned by calls on a closed Conn. It matches net.ErrClosed.
var ErrClosed = closedError{}

type closedError struct{}

func (closedError) Error() string        { return "batchio: use of closed connection" }
func (closedError) Is(target error) bool { return target == net.ErrClosed }

// ErrWouldBlock is returned in fd mode (NewFD) when the kernel answered
// EAGAIN: nothing more to read, or the send buffer is full. It matches
// syscall.EAGAIN.
var ErrWouldBlock = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string        { return "batchio: operation would block" }
func (wouldBlockError) Is(target error) bool { return target == syscall.EAGAIN }
func (wouldBlockError) Timeout() bool        { return false }
func (wouldBlockError) Temporary() bool      { return true }

// ErrUnsupported is returned by constructors a platform does not offer. It
// matches errors.ErrUnsupported.
var ErrUnsupported = unsupportedError{}

type unsupportedError struct{}

func (unsupportedError) Error() string        { return "batchio: not supported on this platform" }
func (unsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// GSODisabledError reports that the kernel refused a UDP GSO send (EIO:
// typically a device without TX checksum offload), that GSO is now off for
// this Conn, and that the unsent rest of the batch was sent again without
// it. WriteBatch's count stays authoritative: when it equals len(msgs) every
// datagram left and the error is a report, not a failure.
type GSODisabledError struct {
	// Cause is the error the GSO send got (an *os.SyscallError wrapping EIO).
	Cause error
	// RetryErr is the error that stopped the retry without GSO, or nil when
	// the retry sent everything.
	RetryErr error
}

func (e *GSODisabledError) Error() string {
	msg := "batchio: UDP GSO disabled"
	if e.Cause != nil {
		msg += " after " + e.Cause.Error()
	}
	if e.RetryErr != nil {
		msg += "; retry without GSO failed: " + e.RetryErr.Error()
	}
	return msg
}

// Unwrap returns Cause and RetryErr, those that are set.
func (e *GSODisabledError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Cause, e.RetryErr} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

var errBlockingFD = errors.New("batchio: NewFD needs a non-blocking socket (O_NONBLOCK)")
