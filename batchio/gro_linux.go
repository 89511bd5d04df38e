package batchio

// The receive pipeline of a Linux Conn:
//
//	recvmmsg into up to BatchSize slots of the arena (one iovec, sockaddr
//	and control buffer per slot, all preallocated)
//	-> per slot: read UDP_GRO's segment size, SO_RXQ_OVFL (only where
//	   SO_MEMINFO cannot report drops) and the
//	   destination address from the control buffer (a socket bound to a
//	   specific address asks for no packet info: its address is every
//	   datagram's destination); drop the slot if
//	   MSG_TRUNC, or if MSG_CTRUNC may have cost the segment size; parse
//	   the source sockaddr
//	-> cut each slot into ceil(n/seg) datagrams as sub-slices of the arena
//	   (no copy), as many as the caller's msgs hold; the rest stays pending
//	   and the next ReadBatch returns it before it calls the kernel again.

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readState is the reader's preallocated state; Conn.rmu guards it.
type readState struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte
	arena []byte
	slots []slotInfo
	zones zoneCache

	// Cursor over the last recvmmsg: n slots were filled, next is the
	// first slot not fully handed out, off the offset inside it. The
	// kernel wrote back into hdrs[:n] only (a header it did not fill keeps
	// what it was given), so the next receive resets those alone.
	n, next, off int
}

// slotInfo is one received slot, parsed.
type slotInfo struct {
	addr  netip.AddrPort
	local netip.Addr
	n     int // payload bytes; -1 when truncated (dropped)
	seg   int // UDP_GRO segment size, 0 when not coalesced
}

func (r *readState) init(batch, slotSize int) {
	r.hdrs = make([]mmsghdr, batch)
	r.iovs = make([]unix.Iovec, batch)
	r.names = make([]unix.RawSockaddrInet6, batch)
	r.ctrl = make([]byte, batch*recvCmsgSpace)
	r.arena = make([]byte, batch*slotSize)
	r.slots = make([]slotInfo, batch)
	for i := range r.hdrs {
		r.iovs[i].Base = &r.arena[i*slotSize]
		r.iovs[i].SetLen(slotSize)
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.ctrl[i*recvCmsgSpace]
		resetRecvHdr(h)
	}
}

// resetRecvHdr restores the fields of a receive header the kernel writes
// back (___sys_recvmsg: the source address length, the control length and
// the flags) to what a receive offers.
func resetRecvHdr(h *unix.Msghdr) {
	h.Namelen = unix.SizeofSockaddrInet6
	h.SetControllen(recvCmsgSpace)
	h.Flags = 0
}

// ReadBatch receives datagrams into msgs and returns how many it filled
// (>= 1 unless err != nil). Each msgs[i].Buffer is set to a sub-slice of the
// Conn's receive arena, valid until the next ReadBatch or Drain, or Close;
// Addr is the source and Local the destination; a datagram cut from a GRO receive has SegmentSize set.
// A GRO receive may hold more datagrams than msgs: the rest is returned by
// the next call without a system call.
//
// In New mode ReadBatch parks in the poller until data arrives (or the
// UDPConn's read deadline passes); in fd mode it returns ErrWouldBlock when
// the socket is empty.
func (c *Conn) ReadBatch(msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readLocked(msgs, true)
}

// Drain reads until the socket is empty, handing each batch to handle, and
// returns the number of datagrams read. In New mode the first read waits for
// data; the following ones do not. The socket being empty is not an error.
//
// handle must not keep msgs' Buffers past its return, and must not call
// ReadBatch or Drain on this Conn (the read side is held while it runs); it
// may call WriteBatch and Close. Bind it once: a func value built per call
// allocates.
func (c *Conn) Drain(msgs []Message, handle func(msgs []Message)) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	total := 0
	for wait := true; ; wait = false {
		n, err := c.readLocked(msgs, wait)
		if n > 0 {
			total += n
			handle(msgs[:n])
		}
		if err == ErrWouldBlock {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (c *Conn) readLocked(msgs []Message, wait bool) (int, error) {
	for {
		if c.closed.Load() {
			return 0, ErrClosed
		}
		if c.r.next >= c.r.n {
			if err := c.receiveLocked(len(msgs), wait); err != nil {
				return 0, err
			}
		}
		if n := c.emitLocked(msgs); n > 0 {
			return n, nil
		}
	}
}

// receiveLocked runs one recvmmsg into up to want slots and parses them.
func (c *Conn) receiveLocked(want int, wait bool) error {
	r := &c.r
	// Only the headers the last receive filled were written to; a short
	// receive (the common case when the reader keeps up) leaves the rest
	// as init or an earlier reset made them.
	for i := range r.hdrs[:r.n] {
		resetRecvHdr(&r.hdrs[i].hdr)
	}
	r.n, r.next, r.off = 0, 0, 0
	k := min(c.batch, want)
	n, err := c.recvmmsg(r.hdrs[:k], wait)
	if err != nil {
		// A failed receive fills nothing, but it is rare enough to not
		// bet on what a fault left half-written.
		for i := range r.hdrs[:k] {
			resetRecvHdr(&r.hdrs[i].hdr)
		}
		return err
	}
	var got, coalesced, truncated uint64
	drops, dropsOK := uint32(0), false // the latest SO_RXQ_OVFL count, stored once per batch
	for i := range r.hdrs[:n] {
		h := &r.hdrs[i]
		s := &r.slots[i]
		off := i * recvCmsgSpace
		meta := parseRecvCmsgs(r.ctrl[off : off+min(int(h.hdr.Controllen), recvCmsgSpace)])
		if meta.dropsOK {
			drops, dropsOK = meta.drops, true
		}
		// MSG_TRUNC: the datagram did not fit the slot. MSG_CTRUNC on a
		// GRO socket without a UDP_GRO message: the kernel had no room left
		// for it (the socket's owner enabled more control messages), so a
		// coalesced receive cannot be told from a lone datagram.
		if h.hdr.Flags&unix.MSG_TRUNC != 0 || c.gro && meta.seg == 0 && h.hdr.Flags&unix.MSG_CTRUNC != 0 {
			s.n = -1
			truncated++
			continue
		}
		s.addr = decodeSockaddr(&r.names[i], h.hdr.Namelen, &r.zones)
		s.local = meta.local
		if !s.local.IsValid() {
			s.local = c.local // bound to a specific address: no packet info asked
		}
		s.n = int(h.len)
		s.seg = meta.seg
		cnt := segmentCount(s.n, s.seg)
		got += uint64(cnt)
		if cnt > 1 {
			coalesced++
		}
	}
	r.n = n
	if dropsOK && c.rxq { // else Stats reads the same counter, fresher
		c.stats.kernelDrops.Store(uint64(drops))
	}
	c.stats.recvCalls.Add(1)
	c.stats.received.Add(got)
	if coalesced > 0 {
		c.stats.coalesced.Add(coalesced)
	}
	if truncated > 0 {
		c.stats.truncated.Add(truncated)
	}
	return nil
}

// emitLocked hands pending datagrams to msgs and returns how many.
func (c *Conn) emitLocked(msgs []Message) int {
	r := &c.r
	k := 0
	for k < len(msgs) && r.next < r.n {
		s := &r.slots[r.next]
		if s.n < 0 {
			r.next++
			continue
		}
		base := r.next * c.slotSize
		end := segmentEnd(s.n, s.seg, r.off)
		seg := 0
		if segmentCount(s.n, s.seg) > 1 {
			seg = s.seg
		}
		msgs[k] = Message{Buffer: r.arena[base+r.off : base+end : base+end], Addr: s.addr, Local: s.local, SegmentSize: seg}
		k++
		if end >= s.n {
			r.next, r.off = r.next+1, 0
		} else {
			r.off = end
		}
	}
	return k
}
