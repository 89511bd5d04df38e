package batchio

// The send pipeline of a Linux Conn:
//
//	msgs
//	-> planRuns: consecutive datagrams of equal size to one destination
//	   become one run (at most 64 segments, 64 KB; the last may be shorter),
//	   at most BatchSize runs per sendmmsg
//	-> one mmsghdr per run: the destination sockaddr, one iovec per datagram
//	   pointing at the caller's buffer (no copy), a UDP_SEGMENT control
//	   message when the run holds more than one datagram, and IP_PKTINFO or
//	   IPV6_PKTINFO when the run has a Local source address
//	-> sendmmsg until every header is sent, each call cut to what the
//	   sendCost estimate says ends within rawSendBudget and made without
//	   entering the scheduler, or one header through it when that alone is
//	   predicted longer (sendcost.go); a short count resumes at the first
//	   unsent header
//	-> EIO on a header with UDP_SEGMENT: GSO off for good, re-plan the
//	   unsent rest without it, send it, report GSODisabledError.

import (
	"errors"
	"io"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeState is the writer's preallocated state; Conn.wmu guards it.
type writeState struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec            // one per datagram of the chunk
	names []unix.RawSockaddrInet6 // one per run
	ctrl  []byte                  // UDP_SEGMENT and source address per run
	runs  []run
	zones zoneCache
	cost  sendCost // how long sendmmsg takes per header and GSO segment (sendcost.go)
}

func (w *writeState) init(batch int) {
	w.hdrs = make([]mmsghdr, batch)
	// A chunk holds up to batch full GSO runs, so one sendmmsg can carry
	// batch*64 datagrams.
	w.iovs = make([]unix.Iovec, batch*maxGSOSegments)
	w.names = make([]unix.RawSockaddrInet6, batch)
	w.ctrl = make([]byte, batch*sendCmsgSpace)
	w.runs = make([]run, 0, batch)
}

// WriteBatch sends msgs in order and returns how many were sent. It reads
// each Buffer during the call only and keeps no reference after it returns;
// Addr is the destination; Local, when valid, the source address; the
// SegmentSize is ignored. Consecutive Buffers of equal length to the same
// Addr from the same Local leave as one GSO send.
//
// n < len(msgs) comes with the error that stopped msgs[n]. In New mode a
// full send buffer parks in the poller; in fd mode it returns ErrWouldBlock
// and msgs[n:] should be sent again when the socket is writable. When the
// kernel refuses GSO (EIO), the unsent datagrams are sent again without it
// and the error is a *GSODisabledError even if n == len(msgs).
func (c *Conn) WriteBatch(msgs []Message) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return 0, ErrClosed
	}
	var gsoErr *GSODisabledError
	sent := 0
	for sent < len(msgs) {
		n, gsoFailed, err := c.writeChunkLocked(msgs[sent:min(len(msgs), sent+len(c.w.iovs))])
		sent += n
		if err == nil {
			continue
		}
		if gsoFailed && gsoErr == nil {
			c.gso.Store(false)
			c.stats.gsoDisabled.Add(1)
			gsoErr = &GSODisabledError{Cause: err}
			continue
		}
		if gsoErr != nil {
			gsoErr.RetryErr = err
			return sent, gsoErr
		}
		return sent, err
	}
	if gsoErr != nil {
		return sent, gsoErr
	}
	return sent, nil
}

// writeChunkLocked sends a prefix of chunk (len(chunk) <= len(w.iovs)) of
// at most BatchSize runs. It returns how many datagrams left, whether the
// error that stopped the rest was the kernel refusing a GSO send, and that
// error.
func (c *Conn) writeChunkLocked(chunk []Message) (sent int, gsoFailed bool, err error) {
	w := &c.w
	w.runs = planRuns(chunk, c.gso.Load(), maxGSOSegments, maxGSOBytes, c.batch, w.runs[:0])
	nh, fillErr := c.fillLocked(chunk)
	if len(w.runs) > 0 {
		last := w.runs[len(w.runs)-1]
		defer clear(w.iovs[:last.start+last.count]) // drop references to the caller's buffers
	}

	var calls, rawCalls, gsoSends uint64
	for k := 0; k < nh; {
		m, raw := w.cost.next(w.runs[k:nh], c.rawBudget)
		n, took, err := c.sendmmsg(w.hdrs[k:k+m], raw)
		if err == nil && n <= 0 {
			err = io.ErrNoProgress
		}
		if err != nil {
			w.zones = zoneCache{} // the interface may have been replaced
			c.countSent(sent, calls, rawCalls, gsoSends)
			return sent, w.runs[k].count > 1 && errors.Is(err, unix.EIO), err
		}
		calls++
		if raw {
			rawCalls++
		}
		datagrams := 0
		for _, r := range w.runs[k : k+n] {
			datagrams += r.count
			if r.count > 1 {
				gsoSends++
			}
		}
		w.cost.observe(w.runs[k:k+n], took)
		sent += datagrams
		k += n
	}
	c.countSent(sent, calls, rawCalls, gsoSends)
	return sent, false, fillErr
}

// fillLocked builds one header per planned run and returns how many it
// built; it stops at the first destination the socket cannot reach and
// returns that error.
func (c *Conn) fillLocked(chunk []Message) (int, error) {
	w := &c.w
	for j, r := range w.runs {
		addr := chunk[r.start].Addr
		nl := encodeSockaddr(&w.names[j], c.family, addr, &w.zones)
		if nl == 0 {
			return j, &net.AddrError{Err: "destination unreachable from this socket's address family", Addr: addr.String()}
		}
		for i := r.start; i < r.start+r.count; i++ {
			b := chunk[i].Buffer
			if len(b) > 0 {
				w.iovs[i].Base = unsafe.SliceData(b)
			}
			w.iovs[i].SetLen(len(b))
		}
		h := &w.hdrs[j].hdr
		h.Name = (*byte)(unsafe.Pointer(&w.names[j]))
		h.Namelen = nl
		h.Iov = &w.iovs[r.start]
		h.SetIovlen(r.count)
		h.Flags = 0
		ctl := w.ctrl[j*sendCmsgSpace : (j+1)*sendCmsgSpace]
		n := 0
		if r.count > 1 {
			n = putSegmentCmsg(ctl, uint16(r.size))
		}
		if local := chunk[r.start].Local; local.IsValid() {
			l := putPktinfoCmsg(ctl[n:], c.family, local)
			if l == 0 {
				return j, &net.AddrError{Err: "source address unusable on this socket's address family", Addr: local.String()}
			}
			n += l
		}
		if n > 0 {
			h.Control = &ctl[0]
		} else {
			h.Control = nil
		}
		h.SetControllen(n)
	}
	return len(w.runs), nil
}

func (c *Conn) countSent(sent int, calls, rawCalls, gsoSends uint64) {
	if sent > 0 {
		c.stats.sent.Add(uint64(sent))
	}
	if calls > 0 {
		c.stats.sendCalls.Add(calls)
	}
	if rawCalls > 0 {
		c.stats.rawSendCalls.Add(rawCalls)
	}
	if gsoSends > 0 {
		c.stats.gsoSends.Add(gsoSends)
	}
}
