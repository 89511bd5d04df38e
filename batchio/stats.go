package batchio

import "sync/atomic"

// Stats are cumulative counters of a Conn since it was created.
type Stats struct {
	// Received and Sent count datagrams (a GRO receive of n segments
	// counts n; a GSO send of n segments counts n).
	Received, Sent uint64
	// RecvCalls and SendCalls count system calls that moved data.
	RecvCalls, SendCalls uint64
	// RawSendCalls counts the SendCalls made without entering Go's
	// scheduler, each predicted to run within 20 µs; the rest carried one
	// header predicted to take longer (a long GSO run, or any header on a
	// path slower than 20 µs a datagram).
	RawSendCalls uint64
	// Coalesced counts GRO receives that carried more than one datagram.
	Coalesced uint64
	// GSOSends counts sends that carried a UDP_SEGMENT control message.
	GSOSends uint64
	// Truncated counts receives dropped because the datagram did not fit
	// a receive slot (MSG_TRUNC), or because, with GRO on, the kernel
	// truncated the control messages (MSG_CTRUNC) before the segment size.
	Truncated uint64
	// KernelDrops is the socket's receive-queue drop count, the kernel's
	// sk_drops: on Linux read by Stats itself (SO_MEMINFO), or, on kernels
	// whose SO_MEMINFO lacks it, as last reported with a received datagram
	// (SO_RXQ_OVFL); 0 where unavailable (Capabilities.RxqOverflow).
	KernelDrops uint64
	// GSODisabled counts the times GSO was switched off after EIO (0 or 1).
	GSODisabled uint64
}

// counters are the atomics behind Stats. The reader's and the writer's
// counters are 64 bytes apart, so wherever the struct lands they never share
// a cache line and the two goroutines of a Conn do not contend on one.
type counters struct {
	// written by the reader
	received, recvCalls, coalesced, truncated, kernelDrops atomic.Uint64
	_                                                      [64]byte
	// written by the writer
	sent, sendCalls, rawSendCalls, gsoSends, gsoDisabled atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:     c.received.Load(),
		Sent:         c.sent.Load(),
		RecvCalls:    c.recvCalls.Load(),
		SendCalls:    c.sendCalls.Load(),
		RawSendCalls: c.rawSendCalls.Load(),
		Coalesced:    c.coalesced.Load(),
		GSOSends:     c.gsoSends.Load(),
		Truncated:    c.truncated.Load(),
		KernelDrops:  c.kernelDrops.Load(),
		GSODisabled:  c.gsoDisabled.Load(),
	}
}
