package core_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// idleSessions is the population DESIGN.md's memory target is measured at.
const idleSessions = 10_000

// heapAfterGC returns the live heap once garbage (and sync.Pool contents,
// which survive one collection in the victim cache) is gone.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkIdleSessions measures the heap one node spends per idle
// connected session (DESIGN.md, "Memory": at most 16 KiB at 10,000
// sessions on one node), reported as B/session.
//
// Method. A listening node L accepts 10,000 connections, each from its own
// dialling node with its own key and address, over simnet. Each dialler's
// endpoint is closed as soon as its handshake is confirmed, and then the
// dialler itself, so nothing of the dialling side survives (its CLOSE frame
// cannot leave a closed endpoint: L's session stays up, idle, as with a peer
// that went quiet). L's idle timeout and keepalive interval are an hour and
// half of one, so nothing of the measurement's lifetime disturbs the idle
// sessions. Once every dialler is gone and the handshakes settled, the live
// heap is measured with L holding its sessions (H1); then L is closed and the
// heap measured again (H2). H1 - H2 is what L held: its sessions, their peer
// records and table entries, its engine and wheel. What stays in both — the
// simnet Network with its per-link state for 20,000 directed links, the test's
// own bookkeeping — cancels out. The figure is (H1 - H2) / 10,000, so L's
// fixed cost is charged to its sessions: the figure errs high, never low.
//
// It runs outside a synctest bubble on the system clock: a benchmark measures
// real work, and 10,000 nodes' handshakes (X25519 on both sides) and timer
// wheels are real CPU either way; each dialler lives only for its handshake,
// so few tick at once. One iteration builds the whole population; run it with
// -benchtime=1x.
func BenchmarkIdleSessions(b *testing.B) {
	for b.Loop() {
		perSession := idleSessionsOnce(b)
		b.ReportMetric(perSession, "B/session")
	}
}

func idleSessionsOnce(b *testing.B) float64 {
	nw, err := simnet.New(simnet.Config{Seed: 1, Clock: monotime.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer nw.Close()
	open := func(ap netip.AddrPort, cfg core.Config) (*core.Node, *simnet.Endpoint) {
		var ep *simnet.Endpoint
		n, err := core.ListenDriver(func(h core.Handler) (core.Driver, error) {
			var err error
			ep, err = nw.Listen(ap, h)
			return ep, err
		}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		return n, ep
	}
	l, _ := open(netip.MustParseAddrPort("10.0.0.1:4000"), core.Config{
		IdleTimeout: time.Hour, KeepaliveInterval: 30 * time.Minute, SizeHint: idleSessions,
	})
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Accept every connection (without a ring topology Accept is what ends
	// the responder's reservation), keeping none: the node holds them.
	var accepted atomic.Int64
	acceptDone := make(chan error, 1)
	go func() {
		for accepted.Load() < idleSessions {
			if _, err := l.Accept(ctx); err != nil {
				acceptDone <- err
				return
			}
			accepted.Add(1)
		}
		acceptDone <- nil
	}()

	workers := 4 * runtime.GOMAXPROCS(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= idleSessions {
					return
				}
				ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 4000)
				d, ep := open(ap, core.Config{})
				c, err := d.Dial(ctx, l.Addr().String(), l.LocalKey())
				if err == nil && c.Stats().PacketsSent == 0 {
					// Dial flushes the dialler's first packet, which confirms
					// the handshake to L, before it returns; simnet queues it
					// at L during the send, so closing the endpoint now
					// cannot lose it.
					err = fmt.Errorf("the dialler sent no packet")
				}
				ep.Close() // first: the dialler's CLOSE must not reach L
				d.Close()
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := <-acceptDone; err != nil {
		b.Fatalf("accept after %d: %v", accepted.Load(), err)
	}
	// Settle: L has opened every dialler's confirming packet (each one's
	// first; there is nothing else to wait for, as L's responder sessions
	// send nothing ack-eliciting of their own). A bounded poll, not a sleep.
	deadline := time.Now().Add(time.Minute)
	st := l.Stats()
	for st.Transport.PacketsRecv < idleSessions && time.Now().Before(deadline) {
		runtime.Gosched()
		st = l.Stats()
	}
	if st.Sessions != idleSessions || st.Transport.Conns != idleSessions || st.Transport.PacketsRecv < idleSessions || st.Ring.Transient.Count != 0 {
		b.Fatalf("L has %d sessions, %d connections, %d packets received, %d transient; want %d confirmed",
			st.Sessions, st.Transport.Conns, st.Transport.PacketsRecv, st.Ring.Transient.Count, idleSessions)
	}

	b.Logf("L's handshake drops: %+v", st.Transport.Drops)
	h1 := heapAfterGC()
	if st := l.Stats(); st.Sessions != idleSessions {
		b.Fatalf("sessions ended during the measurement: %d left", st.Sessions)
	}
	l.Close()
	l = nil
	h2 := heapAfterGC()
	if h1 < h2 {
		b.Fatalf("heap grew when the node closed: %d -> %d", h1, h2)
	}
	per := float64(h1-h2) / idleSessions
	b.Logf("heap with L %d B, without %d B: %.0f B per idle session", h1, h2, per)
	return per
}
