package batchio

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRecvControlFits checks that the receive control buffer holds every
// control message the kernel sends for a datagram, in the worst case: an
// IPv4 peer of a dual-stack socket with GRO on, which gets UDP_GRO,
// IPV6_PKTINFO (v4-mapped) and IP_PKTINFO (net/ipv6/udp.c udpv6_recvmsg),
// and SO_RXQ_OVFL once the kernel has dropped. No receive may come back with
// MSG_CTRUNC.
func TestRecvControlFits(t *testing.T) {
	rx, ar := listen(t, "udp", "[::]:0", Config{})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	if !rx.Capabilities().GRO || !tx.Capabilities().GSO {
		t.Skip("kernel without UDP GSO/GRO")
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ar.Port())
	msgs := make([]Message, 8)
	for i := range msgs {
		msgs[i] = Message{Buffer: payload(make([]byte, 1000), uint32(i)), Addr: dst}
	}
	if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	if err := rx.uc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	in := make([]Message, len(msgs))
	for got := 0; got < len(msgs); {
		n, err := rx.ReadBatch(in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rx.r.n {
			if h := &rx.r.hdrs[i].hdr; h.Flags&unix.MSG_CTRUNC != 0 {
				t.Fatalf("receive %d: MSG_CTRUNC with %d of %d control bytes", i, h.Controllen, recvCmsgSpace)
			}
		}
		got += n
	}
	// The worst case adds SO_RXQ_OVFL.
	worst := unix.CmsgSpace(4) + unix.CmsgSpace(4) + unix.CmsgSpace(unix.SizeofInet6Pktinfo) + unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	if recvCmsgSpace < worst {
		t.Fatalf("recvCmsgSpace %d < %d", recvCmsgSpace, worst)
	}
}

// TestCtruncWithoutSegmentSize checks that a GRO receive whose control
// messages the kernel truncated (MSG_CTRUNC, as when the socket's owner
// turned on more control messages than the buffer holds) and so lost its
// UDP_GRO segment size is dropped and counted, never delivered as one
// datagram made of several; a lone datagram after it is still delivered.
func TestCtruncWithoutSegmentSize(t *testing.T) {
	const size, marker = 1000, 99
	f := &fakeSys{recvMangle: func(h []mmsghdr) {
		for i := range h {
			if h[i].len >= 2*size { // the coalesced receive
				h[i].hdr.Flags |= unix.MSG_CTRUNC
				h[i].hdr.SetControllen(0)
			}
		}
	}}
	rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	if !rx.Capabilities().GRO || !tx.Capabilities().GSO {
		t.Skip("kernel without UDP GSO/GRO")
	}
	f.real = rx.sys
	rx.sys = f
	out := make([]Message, 5) // a GSO send of 4, then a longer marker alone
	for i := range out {
		out[i] = Message{Buffer: payload(make([]byte, size), uint32(i)), Addr: dst}
	}
	out[4].Buffer = payload(make([]byte, size+100), marker)
	if n, err := tx.WriteBatch(out); n != len(out) || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	if err := rx.uc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	sizeOf := func(seq uint32) int {
		if seq == marker {
			return size + 100
		}
		return size
	}
	in := make([]Message, 8)
	for done := false; !done; {
		n, err := rx.ReadBatch(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range in[:n] {
			seq, err := checkPayload(m.Buffer, sizeOf)
			if err != nil {
				t.Fatalf("delivered: %v", err)
			}
			done = done || seq == marker
		}
	}
	if s := rx.Stats(); s.Truncated != 1 {
		t.Fatalf("Truncated = %d, want 1 (the receive whose segment size was lost)", s.Truncated)
	}
}

// TestTruncatedDropped checks that a datagram larger than the receive slot
// (MSG_TRUNC) is counted and dropped, never delivered cut short as if
// whole, and that the datagrams around it arrive.
func TestTruncatedDropped(t *testing.T) {
	for _, fd := range []bool{false, true} {
		t.Run("fd="+onOff(fd), func(t *testing.T) {
			cfg := Config{MaxDatagramSize: 500, DisableGRO: true}
			rx, dst := listen(t, "udp4", "127.0.0.1:0", cfg)
			if err := rx.uc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			pfd := []unix.PollFd{{Fd: -1, Events: unix.POLLIN}}
			if fd {
				sock, addr := rawSocket(t, unix.SOCK_NONBLOCK)
				var err error
				if rx, err = NewFD(uintptr(sock), cfg); err != nil {
					t.Fatal(err)
				}
				dst, pfd[0].Fd = addr, int32(sock)
			}
			tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
			sizes := map[uint32]int{0: 100, 1: 501, 2: 500}
			out := []Message{
				{Buffer: payload(make([]byte, 100), 0), Addr: dst},
				{Buffer: payload(make([]byte, 501), 1), Addr: dst},
				{Buffer: payload(make([]byte, 500), 2), Addr: dst},
			}
			if n, err := tx.WriteBatch(out); n != len(out) || err != nil {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			seen := map[uint32]int{}
			in := make([]Message, 4)
			for len(seen) < 2 {
				n, err := rx.ReadBatch(in)
				if err == ErrWouldBlock {
					if k, err := unix.Poll(pfd, 10000); k == 0 || err != nil && err != unix.EINTR {
						t.Fatalf("no datagram within 10 s: %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range in[:n] {
					seq, err := checkPayload(m.Buffer, func(s uint32) int { return sizes[s] })
					if err != nil {
						t.Fatal(err)
					}
					seen[seq]++
				}
			}
			if seen[0] != 1 || seen[2] != 1 || seen[1] != 0 {
				t.Fatalf("delivered %v, want datagrams 0 and 2 once", seen)
			}
			if s := rx.Stats(); s.Truncated != 1 || s.Received != 2 {
				t.Fatalf("Truncated = %d, Received = %d; want 1, 2", s.Truncated, s.Received)
			}
		})
	}
}

// TestRecvHeadersReset checks that every header a recvmmsg is offered has
// the fields the kernel writes back restored (the full address and control
// space, no flags), though only those the previous receive filled are
// reset: bursts of varying length leave different prefixes written, and
// the kernel shrinks what it wrote (an IPv4 source is 16 bytes, an empty
// control buffer 0).
func TestRecvHeadersReset(t *testing.T) {
	rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{BatchSize: 8, DisableGRO: true})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
	var bad error
	offers := 0
	rx.sys = &fakeSys{real: rx.sys, recvOffered: func(h []mmsghdr) {
		offers++
		for i := range h {
			if m := &h[i].hdr; bad == nil && (m.Namelen != unix.SizeofSockaddrInet6 || int(m.Controllen) != recvCmsgSpace || m.Flags != 0) {
				bad = fmt.Errorf("offer %d, header %d: namelen %d, controllen %d, flags %#x", offers, i, m.Namelen, m.Controllen, m.Flags)
			}
		}
	}}
	seq := uint32(0)
	for _, burst := range []int{5, 1, 8, 2, 7, 3} {
		out := make([]Message, burst)
		for i := range out {
			out[i] = Message{Buffer: payload(make([]byte, 100), seq), Addr: dst}
			seq++
		}
		if n, err := tx.WriteBatch(out); n != burst || err != nil {
			t.Fatalf("WriteBatch: %d, %v", n, err)
		}
		receiveAll(t, rx, rx.uc, burst, func(uint32) int { return 100 })
	}
	if bad != nil {
		t.Fatal(bad)
	}
}
