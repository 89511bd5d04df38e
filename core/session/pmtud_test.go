package session_test

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// pmtudPair is a stream pair whose sides both announce 1452-byte datagrams
// (the default ceiling, 1500 minus IPv6 and UDP headers), so path MTU
// discovery searches between 1200 and 1452, over links of the given IP MTU.
func pmtudPair(t *testing.T, ab, ba netem.Config, mtu int64, tune func(a, b *session.Config)) *pair {
	t.Helper()
	p := streamPair(t, ab, ba, func(a, b *session.Config) {
		for _, c := range []*session.Config{a, b} {
			c.Local.MaxDatagramSize, c.Peer.MaxDatagramSize = 1452, 1452
		}
		if tune != nil {
			tune(a, b)
		}
	})
	p.ab.mtu.Store(mtu)
	p.ba.mtu.Store(mtu)
	return p
}

// transfer moves n bytes from A to B on one stream and checks them.
func transfer(t *testing.T, p *pair, seed uint64, n int, during func(sent func() uint64)) {
	t.Helper()
	ctx := context.Background()
	st, err := p.a.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := streamData(seed, 0, n)
	done := writeAndClose(st, data)
	rb := acceptID(t, p.b, st.ID())
	if during != nil {
		go during(st.SentOffset)
	}
	got, err := io.ReadAll(rb)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received %d of %d bytes (intact: %v), %v\nA: %s", len(got), n, bytes.Equal(got, data[:min(len(got), n)]), err, p.a.DebugState())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPMTUDConverges: the search settles on the largest size the link
// carries within searchDone (20) bytes, never above it: 1452 (the ceiling)
// under a 1500-byte MTU, within [1302, 1322] under 1350 (1350 - 28).
func TestPMTUDConverges(t *testing.T) {
	for _, tt := range []struct {
		name     string
		mtu      int64
		lo, hi   int
		localMTU bool // the link refuses with EMSGSIZE instead of dropping
	}{
		{"mtu 1500", 1500, 1452, 1452, false},
		{"mtu 1350", 1350, 1322 - 20, 1322, false},
		{"mtu 1350 EMSGSIZE", 1350, 1322 - 20, 1322, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := netem.Config{Delay: 10 * time.Millisecond}
				p := pmtudPair(t, d, d, tt.mtu, nil)
				defer p.stop()
				if tt.localMTU {
					p.ab.mtu.Store(0)
					p.ab.localMTU.Store(tt.mtu)
				}
				transfer(t, p, 3, 2<<20, nil)
				quiesce(t, p)
				st := p.a.Stats()
				if st.DatagramSize < tt.lo || st.DatagramSize > tt.hi {
					t.Errorf("settled on %d bytes, want [%d, %d]", st.DatagramSize, tt.lo, tt.hi)
				}
				if st.BlackHoles != 0 {
					t.Errorf("%d black holes on a steady path", st.BlackHoles)
				}
				if tt.localMTU && st.SendErrors == 0 {
					t.Error("no send was refused: the EMSGSIZE path did not run")
				}
				t.Logf("size %d: %d probes sent, %d lost; %d dropped as too big; %d send errors; cwnd %d",
					st.DatagramSize, st.MTUProbesSent, st.MTUProbesLost, p.ab.tooBig.Load(), st.SendErrors, st.Cwnd)
			})
		})
	}
}

// TestPMTUDDisabled: with the search off (or nothing to search: both sides
// at 1200) every datagram stays at 1200 bytes.
func TestPMTUDDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := netem.Config{Delay: 10 * time.Millisecond}
		p := pmtudPair(t, d, d, 1500, func(a, b *session.Config) {
			a.DisablePathMTUDiscovery, b.DisablePathMTUDiscovery = true, true
		})
		defer p.stop()
		transfer(t, p, 4, 256<<10, nil)
		quiesce(t, p)
		if st := p.a.Stats(); st.DatagramSize != 1200 || st.MTUProbesSent != 0 {
			t.Errorf("size %d, %d probes: want 1200 and none", st.DatagramSize, st.MTUProbesSent)
		}
	})
}

// TestPMTUDProbesHoldNoFlight: a probe is tracked (its ACK confirms the
// size) but counted in no bytes in flight (RFC 9000 section 14.4): on an
// idle session, while the probe is on the path, the FlightSize is 0.
func TestPMTUDProbesHoldNoFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := netem.Config{Delay: 10 * time.Millisecond}
		p := pmtudPair(t, d, d, 1500, nil)
		defer p.stop()
		var seen, bad, tracked atomic.Int64 // written on the link's goroutine
		p.ab.intercept = func(pkt []byte) bool {
			if len(pkt) > 1200 { // only probes are larger on an idle session
				seen.Add(1)
				if p.a.FlightSize().Load() != 0 {
					bad.Add(1)
				}
				if p.a.Tracker().Stats().InFlightPackets > 0 {
					tracked.Add(1)
				}
			}
			return true
		}
		p.a.Flush(p.clk.now()) // the initiator's PING: its ACK starts the search
		time.Sleep(time.Second)
		if seen.Load() == 0 || tracked.Load() == 0 {
			t.Fatalf("%d probes seen, %d tracked in flight: the test proves nothing", seen.Load(), tracked.Load())
		}
		if bad.Load() != 0 {
			t.Errorf("%d of %d probes counted in the FlightSize", bad.Load(), seen.Load())
		}
		if st := p.a.Stats(); st.DatagramSize != 1452 {
			t.Errorf("settled on %d, want 1452", st.DatagramSize)
		}
		quiesce(t, p)
	})
}

// TestPMTUDBlackHole: the path's MTU drops from 1500 to 1280 in the middle
// of a transfer. Every packet of the size in use is lost from then on; the
// sender falls back to 1200 bytes (RFC 8899 section 4.3), re-sends the
// lost ranges cut to fit (one lost packet becoming two), searches again
// below the size that failed, and the transfer completes intact, with the
// flight back at 0 at quiescence. With loss and reordering on top.
func TestPMTUDBlackHole(t *testing.T) {
	for _, tt := range []struct {
		name string
		imp  netem.Config
	}{
		{"clean", netem.Config{Delay: 10 * time.Millisecond}},
		{"lossy", netem.Config{Delay: 10 * time.Millisecond, Loss: 0.01, Reorder: 0.01, Seed: 7}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				imp2 := tt.imp
				imp2.Seed++
				p := pmtudPair(t, tt.imp, imp2, 1500, nil)
				defer p.stop()
				transfer(t, p, 5, 8<<20, func(sent func() uint64) {
					for sent() < 2<<20 {
						time.Sleep(time.Millisecond)
					}
					p.ab.mtu.Store(1280)
					p.ba.mtu.Store(1280)
				})
				quiesce(t, p)
				for range 100 { // a probe holds no flight: wait for the search's last one
					if n, _ := p.a.LoggedPackets(); n == 0 {
						break
					}
					time.Sleep(100 * time.Millisecond) // virtual
				}
				st := p.a.Stats()
				if st.BlackHoles == 0 {
					t.Errorf("no fallback after the MTU dropped")
				}
				if st.DatagramSize < 1200 || st.DatagramSize > 1280-28 {
					t.Errorf("settled on %d bytes, want [1200, %d]", st.DatagramSize, 1280-28)
				}
				if p.ab.tooBig.Load() == 0 {
					t.Errorf("no datagram was too big: the test proves nothing")
				}
				if n, _ := p.a.LoggedPackets(); n != 0 {
					t.Errorf("at quiescence the sent log holds %d records", n)
				}
				t.Logf("size %d, %d black holes, %d probes (%d lost), %d too big, %d retransmits, %d PTOs",
					st.DatagramSize, st.BlackHoles, st.MTUProbesSent, st.MTUProbesLost, p.ab.tooBig.Load(), st.Retransmits, st.PTOs)
			})
		})
	}
}

// TestSimGoodput measures, in virtual time, one stream's goodput over a
// 20 ms RTT path with 1% loss each way (the loss cell the benchmarks
// compare against quic-go), with datagrams fixed at 1200 bytes or found by
// path MTU discovery (1452), and an initial window of 10 (RFC 9002) or 32
// (quic-go) datagrams. It asserts only that every transfer arrives intact;
// the figures are for the record (go test -run SimGoodput -v).
func TestSimGoodput(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a measurement: not under -short or -race")
	}
	const size = 8 << 20
	for _, tt := range []struct {
		name string
		pmtu bool
		iw   int
	}{
		{"1200 IW10", false, 0},
		{"1200 IW32", false, 32},
		{"pmtud IW10", true, 0},
		{"pmtud IW32", true, 32},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var seeds []float64
			for seed := uint64(1); seed <= 3; seed++ {
				synctest.Test(t, func(t *testing.T) {
					imp := netem.Config{Delay: 10 * time.Millisecond, Loss: 0.01, Seed: seed}
					imp2 := imp
					imp2.Seed += 100
					p := pmtudPair(t, imp, imp2, 1500, func(a, b *session.Config) {
						a.DisablePathMTUDiscovery, b.DisablePathMTUDiscovery = !tt.pmtu, !tt.pmtu
						a.InitialWindowPackets = tt.iw
					})
					defer p.stop()
					start := time.Now()
					transfer(t, p, seed, size, nil)
					el := time.Since(start)
					seeds = append(seeds, float64(size)/el.Seconds()/1e6)
					quiesce(t, p)
				})
			}
			t.Logf("%s: %.2f %.2f %.2f MB/s (3 seeds)", tt.name, seeds[0], seeds[1], seeds[2])
		})
	}
}

// TestPMTUDBlackHoleAborts: four streams fill the window with 1452-byte
// packets when the path's MTU drops to 1280, under 1% loss; two of them
// are aborted while their lost ranges wait to be re-sent in pieces. The
// other two arrive intact, the aborted ones hold nothing in flight and
// the books balance at quiescence (DESIGN.md invariants 1, 2 and 9 on the
// split path).
func TestPMTUDBlackHoleAborts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		imp := netem.Config{Delay: 10 * time.Millisecond, Loss: 0.01, Seed: 21}
		imp2 := imp
		imp2.Seed++
		p := pmtudPair(t, imp, imp2, 1500, nil)
		defer p.stop()
		ctx := context.Background()
		const n, size = 4, 2 << 20
		sts := make([]*session.Stream, n)
		dones := make([]<-chan error, n)
		for i := range sts {
			st, err := p.a.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sts[i] = st
			dones[i] = writeAndClose(st, streamData(9, i, size))
		}
		got := make([][]byte, n)
		errs := make([]error, n)
		read := make(chan struct{}, n)
		for i, st := range sts {
			rb := acceptID(t, p.b, st.ID())
			go func() {
				got[i], errs[i] = io.ReadAll(rb)
				read <- struct{}{}
			}()
		}
		for p.a.Stats().DatagramSize != 1452 || sts[0].SentOffset() < 256<<10 {
			time.Sleep(time.Millisecond) // virtual
		}
		p.ab.mtu.Store(1280)
		p.ba.mtu.Store(1280)
		for p.a.Stats().BlackHoles == 0 {
			time.Sleep(time.Millisecond) // virtual: the fallback, two PTOs on
		}
		sts[1].Abort(1)
		sts[3].Abort(3)
		for range n {
			<-read
		}
		for i := range n {
			aborted := i == 1 || i == 3
			switch {
			case aborted:
				<-dones[i] // the writer learns of the abort
				checkBooks(t, p.a, sts[i], "aborted stream")
			case errs[i] != nil || !bytes.Equal(got[i], streamData(9, i, size)):
				t.Fatalf("stream %d: %d bytes, intact %v, %v", i, len(got[i]), bytes.Equal(got[i], streamData(9, i, size)), errs[i])
			default:
				if err := <-dones[i]; err != nil {
					t.Fatalf("stream %d writer: %v", i, err)
				}
			}
		}
		quiesce(t, p)
		st := p.a.Stats()
		t.Logf("size %d, %d black holes, %d too big, %d retransmits, %d aborted", st.DatagramSize, st.BlackHoles, p.ab.tooBig.Load(), st.Retransmits, st.StreamsAborted)
	})
}
