package batchio

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDisableMmsgFD is TestDisableMmsg in fd mode (an event loop's
// socket, as the gnet driver uses it): Drain reads one datagram per
// system call until the socket is empty, and WriteBatch sends one per
// call.
func TestDisableMmsgFD(t *testing.T) {
	fd, dst := rawSocket(t, unix.SOCK_NONBLOCK)
	c, err := NewFD(uintptr(fd), Config{DisableMmsg: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, pa := listen(t, "udp4", "127.0.0.1:0", Config{})
	b := newBurst([]netip.AddrPort{dst, dst}, 1)
	if n, err := peer.WriteBatch(b.msgs); n != len(b.msgs) || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	seen := make(map[uint32]int)
	handle := func(ms []Message) {
		if len(ms) != 1 {
			t.Errorf("Drain handed %d datagrams at once, want 1", len(ms))
		}
		for _, m := range ms {
			seq, err := checkPayload(m.Buffer, b.sizeOf)
			if err != nil {
				t.Error(err)
			}
			seen[seq]++
		}
	}
	msgs := make([]Message, c.BatchSize())
	deadline := time.Now().Add(10 * time.Second)
	for got := 0; got < len(b.msgs); {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds())); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d datagrams", got, len(b.msgs))
		}
		n, err := c.Drain(msgs, handle)
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
	out := []Message{
		{Buffer: payload(make([]byte, 64), 7), Addr: pa},
		{Buffer: payload(make([]byte, 64), 8), Addr: pa},
		{Buffer: payload(make([]byte, 64), 9), Addr: pa},
	}
	if n, err := c.WriteBatch(out); n != len(out) || err != nil {
		t.Fatalf("fd-mode WriteBatch: %d, %v", n, err)
	}
	if got, _, _ := receiveAll(t, peer, peer.uc, len(out), func(uint32) int { return 64 }); got[7] != 1 || got[8] != 1 || got[9] != 1 {
		t.Fatalf("fd-mode datagrams received %v", got)
	}
	st := c.Stats()
	if st.Received != uint64(len(b.msgs)) || st.RecvCalls != st.Received || st.Sent != uint64(len(out)) || st.SendCalls != st.Sent {
		t.Fatalf("fd mode: received %d in %d calls, sent %d in %d calls; want one call per datagram",
			st.Received, st.RecvCalls, st.Sent, st.SendCalls)
	}
}
