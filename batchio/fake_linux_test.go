package batchio

import (
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeSys wraps the real syscall layer and fails on demand, modelling the
// kernel's sendmmsg semantics: headers before a failing one are sent and
// counted, and the error is reported by the call that starts at it.
type fakeSys struct {
	real sysLayer

	maxPerCall int   // > 0: send at most this many headers per call
	eioOnGSO   bool  // answer EIO to every header carrying UDP_SEGMENT
	failAt     int   // header index (over the Conn's life) failErr hits
	failErr    error // returned once when failAt is reached; nil: never
	recvErr    error // returned once by the next recvmmsg
	// recvMangle, when set, edits the headers a real recvmmsg filled, as
	// a kernel with other control messages to deliver would have.
	recvMangle func(h []mmsghdr)
	// recvOffered, when set, sees the headers a recvmmsg is about to be
	// given.
	recvOffered func(h []mmsghdr)
	// perDatagram, when set, replaces the measured length of a send: a
	// call that sent d datagrams reports it took d*perDatagram, so a test
	// sees what the Conn does on a path of that speed.
	perDatagram time.Duration
	// perSegment, when set with perDatagram, is what each datagram of a
	// GSO header past its first costs instead: a header of c datagrams
	// reports perDatagram + (c-1)*perSegment, as on a kernel that hands a
	// GSO run down the stack as one packet.
	perSegment time.Duration
	// afterSend, when set, runs after every sendmmsg that sent something,
	// so a test can change the fake in the middle of a WriteBatch.
	afterSend func()

	sentHdrs, gsoHdrs, calls int
	sends                    []sendCall
}

// sendCall is what a fakeSys saw of one sendmmsg.
type sendCall struct {
	hdrs, datagrams int // sent
	raw             bool
	took            time.Duration // as reported
}

var _ sysLayer = (*fakeSys)(nil)

func (f *fakeSys) recvmmsg(h []mmsghdr, wait bool) (int, error) {
	if f.recvOffered != nil {
		f.recvOffered(h)
	}
	if err := f.recvErr; err != nil {
		f.recvErr = nil
		return 0, err
	}
	n, err := f.real.recvmmsg(h, wait)
	if err == nil && f.recvMangle != nil {
		f.recvMangle(h[:n])
	}
	return n, err
}

func (f *fakeSys) drops() (uint32, error) { return f.real.drops() }

func (f *fakeSys) sendmmsg(h []mmsghdr, raw bool) (int, time.Duration, error) {
	f.calls++
	if f.eioOnGSO {
		for i := range h {
			if hasSegment(&h[i]) {
				if i == 0 {
					return 0, 0, os.NewSyscallError("sendmmsg", unix.EIO)
				}
				h = h[:i]
				break
			}
		}
	}
	if f.failErr != nil {
		if f.sentHdrs == f.failAt {
			err := f.failErr
			f.failErr = nil
			return 0, 0, err
		}
		if f.sentHdrs+len(h) > f.failAt {
			h = h[:f.failAt-f.sentHdrs]
		}
	}
	if f.maxPerCall > 0 && len(h) > f.maxPerCall {
		h = h[:f.maxPerCall]
	}
	n, took, err := f.real.sendmmsg(h, raw)
	f.sentHdrs += n
	datagrams := 0
	var cost time.Duration
	for i := range h[:n] {
		if hasSegment(&h[i]) {
			f.gsoHdrs++
		}
		c := int(h[i].hdr.Iovlen)
		datagrams += c
		if f.perSegment > 0 {
			cost += f.perDatagram + time.Duration(c-1)*f.perSegment
		} else {
			cost += time.Duration(c) * f.perDatagram
		}
	}
	if f.perDatagram > 0 {
		took = cost
	}
	if n > 0 {
		f.sends = append(f.sends, sendCall{hdrs: n, datagrams: datagrams, raw: raw, took: took})
		if f.afterSend != nil {
			f.afterSend()
		}
	}
	return n, took, err
}

// hasSegment reports whether a send header carries UDP_SEGMENT (always the
// first control message when present).
func hasSegment(h *mmsghdr) bool {
	if h.hdr.Controllen == 0 {
		return false
	}
	c := (*unix.Cmsghdr)(unsafe.Pointer(h.hdr.Control))
	return c.Level == unix.IPPROTO_UDP && c.Type == unix.UDP_SEGMENT
}

// fakePair returns a sender whose syscall layer is f and a receiver, both
// on IPv4 loopback with every offload the kernel has.
func fakePair(t *testing.T, f *fakeSys) (tx, rx *Conn, dst netip.AddrPort) {
	rx, dst = listen(t, "udp4", "127.0.0.1:0", Config{})
	tx, _ = listen(t, "udp4", "127.0.0.1:0", Config{})
	f.real = tx.sys
	tx.sys = f
	return tx, rx, dst
}

// mixedBatch is 3 singles of different sizes, a run of 10, then a run of 5:
// headers 0-2 carry no UDP_SEGMENT, 3 and 4 do when GSO is on.
func mixedBatch(dst netip.AddrPort, first uint32) ([]Message, func(uint32) int) {
	sizes := []int{100, 200, 300}
	for range 10 {
		sizes = append(sizes, 1000)
	}
	for range 5 {
		sizes = append(sizes, 500)
	}
	msgs := make([]Message, len(sizes))
	for i, s := range sizes {
		msgs[i] = Message{Buffer: payload(make([]byte, s), first+uint32(i)), Addr: dst}
	}
	return msgs, func(seq uint32) int {
		i := int(seq - first)
		if i < 0 || i >= len(sizes) {
			return -1
		}
		return sizes[i]
	}
}

func expectAll(t *testing.T, rx *Conn, n int, first uint32, sizeOf func(uint32) int) {
	t.Helper()
	seen, _, _ := receiveAll(t, rx, rx.uc, n, sizeOf)
	for i := range n {
		if seen[first+uint32(i)] != 1 {
			t.Fatalf("datagram %d arrived %d times", first+uint32(i), seen[first+uint32(i)])
		}
	}
}

func TestWriteFallbacks(t *testing.T) {
	eperm := os.NewSyscallError("sendmmsg", unix.EPERM)
	tests := []struct {
		name     string
		fake     fakeSys
		wantN    int  // datagrams WriteBatch reports sent
		wantGSO  bool // GSO still on afterwards
		disabled bool // a *GSODisabledError is returned
		retryErr error
		wantErr  error // errors.Is target; nil: no error
	}{
		{name: "partial writes of one header", fake: fakeSys{maxPerCall: 1}, wantN: 18, wantGSO: true},
		{name: "partial writes of two headers", fake: fakeSys{maxPerCall: 2}, wantN: 18, wantGSO: true},
		{name: "EIO switches GSO off and resends", fake: fakeSys{eioOnGSO: true}, wantN: 18, disabled: true, wantErr: unix.EIO},
		{name: "EIO with partial writes", fake: fakeSys{eioOnGSO: true, maxPerCall: 2}, wantN: 18, disabled: true, wantErr: unix.EIO},
		{name: "error stops the batch", fake: fakeSys{failAt: 2, failErr: eperm}, wantN: 2, wantGSO: true, wantErr: unix.EPERM},
		{name: "error during the retry is reported", fake: fakeSys{eioOnGSO: true, failAt: 5, failErr: eperm}, wantN: 5, disabled: true, retryErr: unix.EPERM, wantErr: unix.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake
			tx, rx, dst := fakePair(t, &f)
			if !tx.Capabilities().GSO {
				t.Skip("kernel without UDP GSO")
			}
			msgs, sizeOf := mixedBatch(dst, 0)
			n, err := tx.WriteBatch(msgs)
			if n != tt.wantN {
				t.Fatalf("WriteBatch sent %d, want %d (err %v)", n, tt.wantN, err)
			}
			if (err == nil) != (tt.wantErr == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("WriteBatch error %v, want %v", err, tt.wantErr)
			}
			var gerr *GSODisabledError
			if errors.As(err, &gerr) != tt.disabled {
				t.Fatalf("error %v: GSODisabledError %v, want %v", err, !tt.disabled, tt.disabled)
			}
			if gerr != nil && !errors.Is(gerr.RetryErr, tt.retryErr) {
				t.Fatalf("RetryErr %v, want %v", gerr.RetryErr, tt.retryErr)
			}
			if got := tx.Capabilities().GSO; got != tt.wantGSO {
				t.Fatalf("GSO %v after the batch, want %v", got, tt.wantGSO)
			}
			if s := tx.Stats(); s.GSODisabled != boolToUint(tt.disabled) || s.Sent != uint64(n) {
				t.Fatalf("stats %+v", s)
			}
			if tt.fake.maxPerCall > 0 && f.calls < (f.sentHdrs+tt.fake.maxPerCall-1)/tt.fake.maxPerCall {
				t.Fatalf("%d calls for %d headers at %d per call", f.calls, f.sentHdrs, tt.fake.maxPerCall)
			}
			// Every datagram reported sent arrives once, intact; the rest
			// is sent by the caller again and arrives too: none is lost.
			rest := msgs[n:]
			if len(rest) > 0 {
				if m, err := tx.WriteBatch(rest); m != len(rest) || err != nil {
					t.Fatalf("resending the rest: %d, %v", m, err)
				}
			}
			expectAll(t, rx, len(msgs), 0, sizeOf)

			// After the fallback no header carries UDP_SEGMENT again.
			gsoBefore := f.gsoHdrs
			more, sizeOf2 := mixedBatch(dst, 100)
			if m, err := tx.WriteBatch(more); m != len(more) || err != nil {
				t.Fatalf("next batch: %d, %v", m, err)
			}
			if !tt.wantGSO && f.gsoHdrs != gsoBefore {
				t.Fatalf("GSO headers sent after GSO was switched off")
			}
			if tt.wantGSO && f.gsoHdrs == gsoBefore {
				t.Fatalf("no GSO header in a batch with runs")
			}
			expectAll(t, rx, len(more), 100, sizeOf2)
		})
	}
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestReadError checks that a failing recvmmsg is reported and loses
// nothing: the datagrams stay queued for the next ReadBatch.
func TestReadError(t *testing.T) {
	f := &fakeSys{}
	rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	f.real = rx.sys
	rx.sys = f
	msgs, sizeOf := mixedBatch(dst, 0)
	if n, err := tx.WriteBatch(msgs); n != len(msgs) || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	f.recvErr = os.NewSyscallError("recvmmsg", unix.ENOMEM)
	if n, err := rx.ReadBatch(make([]Message, 8)); n != 0 || !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("ReadBatch = %d, %v; want 0, ENOMEM", n, err)
	}
	expectAll(t, rx, len(msgs), 0, sizeOf)
}
