package batchio

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		is      []error
		isNot   []error
		message string
	}{
		{"closed", ErrClosed, []error{net.ErrClosed, ErrClosed}, []error{io.EOF}, "closed"},
		{"would block", ErrWouldBlock, []error{syscall.EAGAIN}, []error{net.ErrClosed}, "block"},
		{"unsupported", ErrUnsupported, []error{errors.ErrUnsupported}, []error{syscall.EAGAIN}, "not supported"},
		{"gso disabled, retry ok", &GSODisabledError{Cause: syscall.EIO}, []error{syscall.EIO}, []error{syscall.EPERM}, "GSO disabled after"},
		{"gso disabled, retry failed", &GSODisabledError{Cause: syscall.EIO, RetryErr: syscall.EPERM}, []error{syscall.EIO, syscall.EPERM}, nil, "retry without GSO failed"},
		{"gso disabled, no cause", &GSODisabledError{}, nil, []error{syscall.EIO}, "GSO disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range tt.is {
				if !errors.Is(tt.err, target) {
					t.Errorf("%v does not match %v", tt.err, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(tt.err, target) {
					t.Errorf("%v matches %v", tt.err, target)
				}
			}
			if !strings.Contains(tt.err.Error(), tt.message) {
				t.Errorf("message %q lacks %q", tt.err.Error(), tt.message)
			}
		})
	}
	var ne net.Error
	if !errors.As(ErrWouldBlock, &ne) || ne.Timeout() {
		t.Error("ErrWouldBlock is not a non-timeout net.Error")
	}
}
