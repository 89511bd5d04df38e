package batchio

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestMmsghdrLayout pins struct mmsghdr's layout (include/linux/socket.h):
// msg_len right after the msghdr, the whole padded to pointer alignment, as
// the kernel strides the vector.
func TestMmsghdrLayout(t *testing.T) {
	const ptr = unsafe.Sizeof(uintptr(0))
	var h mmsghdr
	if off := unsafe.Offsetof(h.len); off != unix.SizeofMsghdr {
		t.Fatalf("msg_len at %d, want %d", off, unix.SizeofMsghdr)
	}
	if size, want := unsafe.Sizeof(h), (unix.SizeofMsghdr+4+ptr-1)&^(ptr-1); size != want {
		t.Fatalf("sizeof(mmsghdr) = %d, want %d", size, want)
	}
}
