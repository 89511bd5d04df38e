package core_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// TestConvergeOnRateLimitedLink runs a bulk one-way transfer over a 1 MB/s
// bottleneck with a 100 KB tail-drop queue and 20 ms of propagation each
// way, and checks that each controller settles where the model says:
//
//   - base RTT 40 ms (2 x 20 ms), plus the 1.2 ms it takes to serialize one
//     full datagram at 1 MB/s; the bottleneck queue adds at most
//     QueueBytes/Rate = 100 ms, and the receiver's ACK delay at most its
//     max_ack_delay (25 ms, wire.DefaultTransportParams). So every RTT
//     sample, and the smoothed RTT, is in [40 ms, 40+1.2+100+25 ms].
//   - MinRTT is the first, empty-queue sample: 40 ms plus one
//     serialization, within 40..45 ms.
//   - goodput: the link moves Rate bytes/s of datagrams, of which headers
//     and the AEAD tag take ~3%; a controller that keeps the queue from
//     draining achieves at least 70% of Rate, and nothing exceeds Rate.
//   - CUBIC fills the queue until it tail-drops, so its window peaks near
//     BDP + queue (40 KB + 100 KB) and backs off by beta = 0.7 (RFC 9438):
//     it stays below 3 x (BDP + queue) and its RTT sits well above base.
//   - LEDBAT aims at 60 ms of queueing delay (congestion.DefaultLEDBATTarget),
//     below the 100 ms the queue can hold, so it never needs a loss: its
//     smoothed RTT stays near 40 + 60 ms, under the queue's ceiling. Its
//     window still dips to 2 datagrams at each periodic slowdown (LEDBAT++
//     draft, "Periodic slowdown"), so only its peak is bounded.
//   - Neither sees a probe timeout: with a continuous flight every tail
//     drop is followed by later packets whose ACKs declare it lost by the
//     packet threshold (RFC 9002 section 6.1.1).
//
// Virtual time makes the run deterministic for a seed: the bands are the
// model's, with margins for the controllers' sawtooth, not for noise.
func TestConvergeOnRateLimitedLink(t *testing.T) {
	const (
		rate      = 1_000_000 // bytes/s (netem.Config.Rate)
		queue     = 100_000   // bytes
		delay     = 20 * time.Millisecond
		baseRTT   = 2 * delay
		bdp       = rate * int64(baseRTT) / int64(time.Second) // 40 KB
		warmup    = 3 * time.Second
		measure   = 7 * time.Second
		msgSize   = 16 << 10
		serialize = time.Duration(1200 * int64(time.Second) / rate)
		maxAck    = 25 * time.Millisecond
		maxQueue  = time.Duration(queue * int64(time.Second) / rate)
	)
	for _, tc := range []struct {
		name   string
		cc     session.Controller
		rttLo  time.Duration // band of the smoothed RTT once converged
		rttHi  time.Duration
		cwndHi float64 // bound of the window, in BDPs
	}{
		// CUBIC: the queue is full at every loss and drains by at most 30%
		// after it, so the mean queueing delay is well above zero.
		{"cubic", session.CUBIC, baseRTT + 10*time.Millisecond, baseRTT + serialize + maxQueue + maxAck, 3 * float64(bdp+queue) / float64(bdp)},
		// LEDBAT: near the 60 ms target; the band is generous on both sides
		// (the window follows delay with a lag of one RTT) but excludes the
		// full queue.
		{"ledbat", session.LEDBAT, baseRTT + 20*time.Millisecond, baseRTT + 90*time.Millisecond, 3 * float64(bdp+queue) / float64(bdp)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			synctest.Test(t, func(t *testing.T) {
				nw := simNetwork(t, 21, netem.Config{Delay: delay})
				cfg := core.Config{Transport: core.TransportConfig{Congestion: tc.cc}}
				a := simNode(t, nw, "10.0.0.1:4000", cfg)
				b := simNode(t, nw, "10.0.0.2:4000", cfg)
				defer b.Close()
				defer a.Close()
				if err := nw.SetLink(a.Addr(), b.Addr(), netem.Config{Delay: delay, Rate: rate, QueueBytes: queue}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ca, cb := connect(t, ctx, a, b)

				var received atomic.Int64
				done := make(chan struct{}, 2)
				go func() { // the bulk sender
					defer func() { done <- struct{}{} }()
					msg := make([]byte, msgSize)
					for ctx.Err() == nil {
						if err := ca.SendMessage(ctx, msg); err != nil {
							return
						}
					}
				}()
				go func() { // the sink
					defer func() { done <- struct{}{} }()
					for {
						m, err := cb.ReceiveMessage(ctx)
						if err != nil {
							return
						}
						received.Add(int64(len(m)))
					}
				}()

				time.Sleep(warmup)
				start, startBytes := time.Now(), received.Load()
				var maxCwnd, minCwnd uint64 = 0, ^uint64(0)
				var sumRTT time.Duration
				var samples int
				for time.Since(start) < measure {
					time.Sleep(50 * time.Millisecond)
					st := ca.Stats()
					maxCwnd, minCwnd = max(maxCwnd, st.Cwnd), min(minCwnd, st.Cwnd)
					sumRTT += st.RTT
					samples++
					if st.RTT < baseRTT || st.RTT > tc.rttHi {
						t.Errorf("at %v: smoothed RTT %v outside [%v, %v]", time.Since(start)+warmup, st.RTT, baseRTT, tc.rttHi)
					}
				}
				elapsed := time.Since(start)
				got := received.Load() - startBytes
				st := ca.Stats()
				cancel()
				<-done
				<-done

				goodput := float64(got) / elapsed.Seconds()
				meanRTT := sumRTT / time.Duration(samples)
				links := nw.Stats()
				t.Logf("goodput %.0f B/s (%.1f%% of %d); smoothed RTT mean %v, final %v, min %v; cwnd %d..%d B = %.2f..%.2f BDP (BDP %d B); lost %d, PTOs %d, queue drops %d",
					goodput, 100*goodput/rate, rate, meanRTT, st.RTT, st.MinRTT, minCwnd, maxCwnd,
					float64(minCwnd)/float64(bdp), float64(maxCwnd)/float64(bdp), bdp, st.Lost, st.PTOs, links.DroppedQueue)
				if goodput < 0.7*rate || goodput > rate {
					t.Errorf("goodput %.0f B/s outside [70%%, 100%%] of the %d B/s link", goodput, rate)
				}
				if st.MinRTT < baseRTT || st.MinRTT > baseRTT+5*time.Millisecond {
					t.Errorf("MinRTT %v, want the base %v plus one serialization", st.MinRTT, baseRTT)
				}
				if meanRTT < tc.rttLo || meanRTT > tc.rttHi {
					t.Errorf("mean smoothed RTT %v outside [%v, %v]", meanRTT, tc.rttLo, tc.rttHi)
				}
				if r := float64(maxCwnd) / float64(bdp); r > tc.cwndHi {
					t.Errorf("window peaked at %.2f BDP, above %.2f", r, tc.cwndHi)
				}
				if st.PTOs != 0 {
					t.Errorf("%d probe timeouts in a continuous transfer", st.PTOs)
				}
				// CUBIC's trough is beta x its peak, the peak BDP + queue: the
				// window never falls below the pipe, so the link never idles.
				if tc.cc == session.CUBIC && minCwnd < uint64(bdp) {
					t.Errorf("CUBIC's window fell to %d B, below the %d B BDP", minCwnd, bdp)
				}
				if tc.cc == session.LEDBAT && links.DroppedQueue != 0 {
					t.Errorf("LEDBAT overflowed the queue %d times: it should hold the delay under its target", links.DroppedQueue)
				}
			})
		})
	}
}
