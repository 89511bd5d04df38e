package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/internal/netem"
)

// streamPair is a pair whose B side is the responder (stream ids differ by
// side).
func streamPair(t *testing.T, ab, ba netem.Config, tune func(a, b *session.Config)) *pair {
	t.Helper()
	pc := pairConfig{ab: ab, ba: ba}
	pc.cfgB.Responder = true
	if tune != nil {
		tune(&pc.cfgA, &pc.cfgB)
	}
	return newPair(t, pc)
}

// streamData is the deterministic content of stream i of a test.
func streamData(seed uint64, i, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	b := make([]byte, n)
	for j := 0; j < n; j += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && j+k < n; k++ {
			b[j+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// writeAndClose writes data to st and closes its sending direction on a
// goroutine of its own; the channel reports the first error (nil once the
// FIN is queued).
func writeAndClose(st *session.Stream, data []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.CloseWrite()
		}
		done <- err
	}()
	return done
}

// checkBooks asserts the flight's books of s: the FlightSize equals the
// bytes of the packets in flight, st has none (it ended early).
func checkBooks(t *testing.T, s *session.Session, st *session.Stream, where string) {
	t.Helper()
	flight, mine, others := s.FlightBooks(st)
	if mine != 0 {
		t.Errorf("%s: the aborted stream still holds %d bytes in flight", where, mine)
	}
	if flight != others {
		t.Errorf("%s: FlightSize %d, but the other packets in flight hold %d", where, flight, others)
	}
}

// TestStreamsManyLossy: 100 concurrent streams of random sizes up to 16 MiB
// at 2% loss, 20 ms RTT, reordering and duplication: every byte arrives
// intact (hash), once, in order; the flight returns to 0 and every stream
// is forgotten on both sides.
func TestStreamsManyLossy(t *testing.T) {
	imp := netem.Config{Loss: 0.02, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Reorder: 0.02, Duplicate: 0.01, Seed: 11}
	imp2 := imp
	imp2.Seed = 12
	const streams = 100
	r := rand.New(rand.NewPCG(5, 5))
	sizes := make([]int, streams)
	for i := range sizes {
		// Log-uniform from 1 KiB to 4 MiB, and one of 16 MiB: the
		// largest size the contract names, at a total the race detector
		// moves in seconds.
		sizes[i] = int(1024 * float64(uint64(1)<<12) * r.Float64() * r.Float64())
	}
	sizes[streams/2] = 16 << 20
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, imp, imp2, nil)
		defer p.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // virtual
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 2*streams)
		got := make([][32]byte, streams)
		for i := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := p.a.OpenStream(ctx)
				if err != nil {
					errs <- err
					return
				}
				// The first 8 bytes name the stream (accept order need
				// not follow our goroutines' order).
				var hdr [8]byte
				hdr[0] = byte(i)
				if _, err := st.Write(hdr[:]); err != nil {
					errs <- err
					return
				}
				if _, err := st.ReadFrom(bytes.NewReader(streamData(1, i, sizes[i]))); err != nil {
					errs <- err
					return
				}
				errs <- st.Close()
			}()
		}
		for range streams {
			st, err := p.b.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := sha256.New()
				var hdr [8]byte
				if _, err := io.ReadFull(st, hdr[:]); err != nil {
					errs <- err
					return
				}
				if _, err := st.WriteTo(h); err != nil {
					errs <- err
					return
				}
				h.Sum(got[hdr[0]][:0])
				errs <- st.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("%v\nA: %s\nB: %s", err, p.a.DebugState(), p.b.DebugState())
			}
		}
		for i := range streams {
			if want := sha256.Sum256(streamData(1, i, sizes[i])); got[i] != want {
				t.Fatalf("stream %d (%d bytes): hash differs", i, sizes[i])
			}
		}
		quiesce(t, p)
		for range 100 {
			if p.a.StreamCount() == 0 && p.b.StreamCount() == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond) // virtual: the last ACKs of the FINs
		}
		if a, b := p.a.StreamCount(), p.b.StreamCount(); a != 0 || b != 0 {
			t.Errorf("streams still held after every one ended: A %d, B %d", a, b)
		}
		st := p.a.Stats()
		if st.Retransmits == 0 || st.StreamsAborted != 0 {
			t.Errorf("2%% loss: %d retransmits, %d aborted streams", st.Retransmits, st.StreamsAborted)
		}
		t.Logf("A: %d streams, %d pkts, %d retransmits, rtt %v, cwnd %d", st.StreamsOpened, st.PacketsSent, st.Retransmits, st.RTT, st.Cwnd)
	})
}

// TestAbortFreesWindow is DESIGN.md invariant 4: stream X fills the
// congestion window on a path that went dark and aborts on the window-wait
// timeout; stream Y then sends 1 MiB. Y's first byte leaves at once (well
// within one RTT of X's abort), without waiting for X's packets to be given
// up by retransmission, and Y's megabyte arrives once the path is back.
func TestAbortFreesWindow(t *testing.T) {
	const rtt = 20 * time.Millisecond
	d := netem.Config{Delay: rtt / 2}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, nil)
		defer p.stop()
		ctx := context.Background()
		x, err := p.a.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Get the connection going, then darken the A->B path.
		if _, err := x.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		p.ab.blackhole.Store(true)
		werr := make(chan error, 1)
		go func() {
			_, err := x.Write(make([]byte, 8<<20)) // far beyond the window
			werr <- err
		}()
		err = <-werr
		aborted := time.Now()
		var ae *session.StreamAbortError
		if !errors.As(err, &ae) || !errors.Is(err, session.ErrWindowWait) || ae.Remote {
			t.Fatalf("writer of the stalled stream: %v, want a local window-wait abort", err)
		}
		checkBooks(t, p.a, x, "right after the window-wait abort")
		if st := p.a.Stats(); st.AbortReleasedBytes == 0 || st.Tracker.Abandoned != 0 {
			t.Errorf("the abort released %d flight bytes (want > 0), %d packets abandoned by retransmission (want 0)", st.AbortReleasedBytes, st.Tracker.Abandoned)
		}

		y, err := p.a.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		data := streamData(3, 0, 1<<20)
		ydone := writeAndClose(y, data)
		for y.SentOffset() == 0 {
			if time.Since(aborted) >= rtt {
				t.Fatalf("stream Y's first byte did not leave within one RTT (%v) of X's abort", rtt)
			}
			time.Sleep(time.Millisecond) // virtual
		}
		t.Logf("Y's first byte left %v after X's abort", time.Since(aborted))
		p.ab.blackhole.Store(false)

		// B: X arrives aborted, Y whole.
		for {
			st, err := p.b.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.ID() == x.ID() {
				if _, err := io.Copy(io.Discard, st); !errors.As(err, &ae) || !ae.Remote || ae.Code != session.StreamCodeWindowWait {
					t.Fatalf("reader of X: %v, want the peer's window-wait abort", err)
				}
				continue
			}
			b, err := io.ReadAll(st)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, data) {
				t.Fatalf("Y: %d bytes arrived, differing from the %d written", len(b), len(data))
			}
			break
		}
		if err := <-ydone; err != nil {
			t.Fatal(err)
		}
		quiesce(t, p)
	})
}

// TestAbortSites: every early end of a stream goes through the one abort
// path. Right after it the stream has nothing in flight and the FlightSize
// equals the bytes of the other packets in flight; the other stream keeps
// going to its end, and the flight is 0 at quiescence.
func TestAbortSites(t *testing.T) {
	errUpstream := errors.New("upstream failed")
	cases := []struct {
		name string
		// trigger ends stream x early; a or b as the case needs. It
		// returns the session whose books to check and the cause the
		// reader of x on the other side must see (nil: any abort).
		trigger func(t *testing.T, p *pair, x *session.Stream) *session.Session
		session bool // the whole session ends (the other stream too)
	}{
		{"Abort", func(t *testing.T, p *pair, x *session.Stream) *session.Session {
			x.Abort(42)
			return p.a
		}, false},
		{"peer STREAM_ABORT", func(t *testing.T, p *pair, x *session.Stream) *session.Session {
			bx := acceptID(t, p.b, x.ID())
			// Let B acknowledge x's first flight before it aborts: were
			// the abort to leave with that ACK, x would have nothing in
			// flight when it arrives (y took the window it opened) and
			// the case would prove nothing.
			time.Sleep(40 * time.Millisecond) // virtual: two RTTs
			bx.Abort(7)
			var ae *session.StreamAbortError
			for {
				// A writer on x learns of it from the peer.
				if _, err := x.Write(make([]byte, 1024)); errors.As(err, &ae) {
					break
				}
			}
			if !ae.Remote || ae.Code != 7 {
				t.Errorf("writer of x: %v, want the peer's abort with code 7", ae)
			}
			return p.a
		}, false},
		{"ReadFrom upstream error", func(t *testing.T, p *pair, x *session.Stream) *session.Session {
			r := io.MultiReader(bytes.NewReader(make([]byte, 256<<10)), iotestErr{errUpstream})
			if _, err := x.ReadFrom(r); !errors.Is(err, errUpstream) {
				t.Errorf("ReadFrom: %v, want the upstream error", err)
			}
			return p.a
		}, false},
		{"session Close", func(t *testing.T, p *pair, x *session.Stream) *session.Session {
			p.a.Close()
			return p.a
		}, true},
		{"socket failure mid-send", func(t *testing.T, p *pair, x *session.Stream) *session.Session {
			p.ab.failSends.Store(true)
			for p.a.IsAlive() {
				x.Write(make([]byte, 1024))
			}
			// IsAlive turns false when the end begins; the goroutine
			// whose send failed may still be running it.
			synctest.Wait()
			return p.a
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := netem.Config{Delay: 10 * time.Millisecond}
			synctest.Test(t, func(t *testing.T) {
				p := streamPair(t, d, d, nil)
				defer p.stop()
				ctx := context.Background()
				x, _ := p.a.OpenStream(ctx)
				y, _ := p.a.OpenStream(ctx)
				// Both streams send continuously: packets of each are in
				// flight when x ends.
				yData := streamData(9, 1, 4<<20)
				ydone := writeAndClose(y, yData)
				if _, err := x.Write(make([]byte, 512<<10)); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 100; i++ {
					if _, mine, _ := p.a.FlightBooks(x); mine > 0 {
						break
					}
					time.Sleep(time.Millisecond) // virtual: until x's packets are mid-flight
				}
				if _, mine, _ := p.a.FlightBooks(x); mine == 0 {
					t.Fatal("x has nothing in flight before it ends: the case proves nothing")
				}
				before := p.a.Stats().AbortReleasedBytes
				s := tc.trigger(t, p, x)
				checkBooks(t, s, x, "right after the abort")
				if got := s.Stats().AbortReleasedBytes; got == before {
					t.Errorf("the abort released no flight bytes")
				}
				if !tc.session {
					by := acceptID(t, p.b, y.ID())
					b, err := io.ReadAll(by)
					if err != nil || !bytes.Equal(b, yData) {
						t.Fatalf("y: %d bytes, %v; want its %d bytes intact", len(b), err, len(yData))
					}
					if err := <-ydone; err != nil {
						t.Fatal(err)
					}
				} else if err := <-ydone; err == nil {
					t.Fatal("y completed on a session that ended")
				}
				if !tc.session {
					quiesce(t, p)
				} else if f := s.FlightSize().Load(); f != 0 {
					t.Errorf("FlightSize %d after the session ended", f)
				}
			})
		})
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

// acceptID accepts streams on s until the one with id (the others are
// drained in the background).
func acceptID(t *testing.T, s *session.Session, id uint64) *session.Stream {
	t.Helper()
	for {
		st, err := s.AcceptStream(context.Background())
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		if st.ID() == id {
			return st
		}
		go io.Copy(io.Discard, st)
	}
}

// TestSlowReader: a reader slower than the path holds the sender back
// through the windows: the sender's buffered bytes stay within its send
// buffer plus the receive window, and every byte arrives.
func TestSlowReader(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	const window = 256 << 10
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			b.Local.InitialMaxStreamData, a.Peer.InitialMaxStreamData = window, window
			b.Local.InitialMaxData, a.Peer.InitialMaxData = 4*window, 4*window
			b.MaxStreamWindow = window
			b.MaxConnWindow = 4 * window
			b.MaxMessageSize = 64 << 10
			a.MaxMessageSize = 64 << 10
			a.StreamSendBuffer = 128 << 10
			a.WindowWaitTimeout = -1
		})
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		data := streamData(4, 0, 4<<20)
		done := writeAndClose(x, data)
		bx := acceptID(t, p.b, x.ID())
		var got []byte
		buf := make([]byte, 16<<10)
		maxHeld, maxRecvHeld := uint64(0), uint64(0)
		for {
			n, err := bx.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h := x.Buffered(); h > maxHeld {
				maxHeld = h
			}
			// The receiver's side: bytes received and not yet read.
			if recvd, consumed := p.b.ConnFlow(); recvd-consumed > maxRecvHeld {
				maxRecvHeld = recvd - consumed
			}
			time.Sleep(10 * time.Millisecond) // virtual: 1.6 MB/s reader
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes arrived, want %d intact", len(got), len(data))
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if limit := uint64(128<<10 + window); maxHeld > limit {
			t.Errorf("sender held up to %d bytes, above send buffer + window = %d", maxHeld, limit)
		}
		if maxRecvHeld > window {
			t.Errorf("receiver held up to %d unread bytes, above its stream window %d", maxRecvHeld, window)
		}
		t.Logf("RELIABILITY slow_reader bytes=%d send_buffer=%d window=%d sender_held_max=%d receiver_unread_max=%d",
			len(data), 128<<10, window, maxHeld, maxRecvHeld)
	})
}

// TestInactivityTimeout: a stream the peer opened that brings nothing for
// the inactivity timeout is aborted on both sides.
func TestInactivityTimeout(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, nil)
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		x.Write([]byte("hello"))
		bx := acceptID(t, p.b, x.ID())
		start := time.Now()
		_, err := io.ReadAll(bx)
		var ae *session.StreamAbortError
		if !errors.As(err, &ae) || !errors.Is(err, session.ErrStreamInactive) {
			t.Fatalf("reader of the silent stream: %v, want ErrStreamInactive", err)
		}
		if el := time.Since(start); el < session.DefaultStreamInactivityTimeout || el > session.DefaultStreamInactivityTimeout+time.Second {
			t.Errorf("aborted after %v, want about %v", el, session.DefaultStreamInactivityTimeout)
		}
		for {
			if _, err := x.Write([]byte("late")); err != nil {
				if !errors.As(err, &ae) || !ae.Remote || ae.Code != session.StreamCodeInactive {
					t.Fatalf("writer: %v, want the peer's inactivity abort", err)
				}
				break
			}
			time.Sleep(5 * time.Millisecond) // virtual
		}
		quiesce(t, p)
	})
}

// TestDeadlines: a Read and a Write parked past their deadlines return
// os.ErrDeadlineExceeded, and the stream stays usable.
func TestDeadlines(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			a.StreamSendBuffer = 64 << 10
			b.Local.InitialMaxStreamData, a.Peer.InitialMaxStreamData = 1<<20, 1<<20
			b.MaxStreamWindow = 1 << 20
			b.MaxMessageSize = 64 << 10
			a.WindowWaitTimeout = -1
		})
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		x.SetReadDeadline(time.Now().Add(time.Second))
		start := time.Now()
		if _, err := x.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v, want os.ErrDeadlineExceeded", err)
		}
		if el := time.Since(start); el != time.Second {
			t.Errorf("Read returned after %v, want 1s", el)
		}
		// Nobody reads at B: the window (1 MiB) and the send buffer
		// fill, and the Write parks until its deadline.
		x.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := x.Write(make([]byte, 4<<20))
		if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n >= 4<<20 {
			t.Fatalf("Write: %d bytes, %v; want part of it and os.ErrDeadlineExceeded", n, err)
		}
		// Cleared deadlines: the bytes written go through.
		x.SetDeadline(time.Time{})
		bx := acceptID(t, p.b, x.ID())
		go x.CloseWrite()
		b, err := io.ReadAll(bx)
		if err != nil || len(b) != n {
			t.Fatalf("reader: %d bytes, %v; want the %d written", len(b), err, n)
		}
	})
}

// TestCloseWhileWriting: Close while a Write is parked ends that Write
// (ErrWriteClosed); the bytes it buffered are delivered, then EOF.
func TestCloseWhileWriting(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			a.StreamSendBuffer = 64 << 10
			a.WindowWaitTimeout = -1
		})
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		res := make(chan int, 1)
		go func() {
			n, err := x.Write(make([]byte, 64<<20))
			if !errors.Is(err, session.ErrWriteClosed) {
				t.Errorf("parked Write: %v, want ErrWriteClosed", err)
			}
			res <- n
		}()
		time.Sleep(100 * time.Millisecond) // virtual: the writer parks
		x.Close()
		n := <-res
		bx := acceptID(t, p.b, x.ID())
		got, err := io.Copy(io.Discard, bx)
		if err != nil || got != int64(n) {
			t.Fatalf("reader: %d bytes, %v; want the %d written before Close", got, err, n)
		}
		quiesce(t, p)
	})
}

// TestPeerVanishes: a peer that goes silent mid-stream ends the session at
// the idle timeout, and parked stream calls return its error.
func TestPeerVanishes(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			a.IdleTimeout = 10 * time.Second
			a.WindowWaitTimeout = -1
			b.StreamInactivityTimeout = -1
		})
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		x.Write(make([]byte, 1<<20))
		time.Sleep(100 * time.Millisecond)
		p.ab.blackhole.Store(true)
		p.ba.blackhole.Store(true)
		_, werr := x.Write(make([]byte, 64<<20))
		_, rerr := x.Read(make([]byte, 10))
		for _, err := range []error{werr, rerr} {
			if !errors.Is(err, session.ErrIdleTimeout) {
				t.Errorf("parked call: %v, want the idle timeout", err)
			}
		}
		if f := p.a.FlightSize().Load(); f != 0 {
			t.Errorf("FlightSize %d after the session ended", f)
		}
	})
}

// TestStreamLimit: the peer's limit of concurrent streams parks OpenStream
// until one of the peer's streams ends.
func TestStreamLimit(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) { b.Local.MaxStreams, a.Peer.MaxStreams = 2, 2 })
		defer p.stop()
		ctx := context.Background()
		s1, _ := p.a.OpenStream(ctx)
		s2, _ := p.a.OpenStream(ctx)
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		if _, err := p.a.OpenStream(tctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("third OpenStream over a limit of 2: %v", err)
		}
		cancel()
		opened := make(chan *session.Stream, 1)
		go func() {
			st, err := p.a.OpenStream(ctx)
			if err != nil {
				t.Error(err)
			}
			opened <- st
		}()
		s1.Write([]byte("one"))
		s1.Close()
		s2.Write([]byte("two"))
		b1 := acceptID(t, p.b, s1.ID())
		io.ReadAll(b1)
		b1.Close()
		s3 := <-opened
		if s3 == nil || s3.ID() <= s2.ID() {
			t.Fatalf("stream opened after the limit rose: %v", s3)
		}
		s2.Abort(1)
		s3.Abort(1)
	})
}

// TestWindowAutoTune: on a path whose bandwidth-delay product (50 ms at
// 40 MB/s: 2 MB) is far above the initial stream window (64 KiB), the
// receiver's windows grow toward it (never past their maxima), and the
// transfer is not held at one window per round trip.
func TestWindowAutoTune(t *testing.T) {
	d := netem.Config{Delay: 25 * time.Millisecond}
	const initial = 64 << 10
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			b.Local.InitialMaxStreamData, a.Peer.InitialMaxStreamData = initial, initial
			b.Local.InitialMaxData, a.Peer.InitialMaxData = 4*initial, 4*initial
			b.MaxStreamWindow, b.MaxConnWindow = 4<<20, 6<<20
			a.MaxMessageSize, b.MaxMessageSize = 32<<10, 32<<10
		})
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		go func() { x.Write(make([]byte, 32<<20)); x.CloseWrite() }()
		bx := acceptID(t, p.b, x.ID())
		start := time.Now()
		n, err := io.Copy(io.Discard, bx)
		if err != nil || n != 32<<20 {
			t.Fatalf("%d bytes, %v", n, err)
		}
		el := time.Since(start)
		sw, cw := bx.RecvWindow()
		if sw <= initial || sw > 4<<20 || cw < sw || cw > 6<<20 {
			t.Errorf("windows after 32 MiB: stream %d, connection %d; want the stream's grown from %d, within 4 MiB, the connection's within 6 MiB and at least the stream's", sw, cw, initial)
		}
		// One 64 KiB window per 50 ms round trip would take 25.6 s.
		if el > 10*time.Second {
			t.Errorf("32 MiB took %v: the windows did not grow with the path", el)
		}
		t.Logf("32 MiB in %v; stream window %d, connection window %d", el, sw, cw)
	})
}

// TestStreamsShareFairly: two streams writing at once through a 4 MB/s
// bottleneck share it round-robin: when the first finishes its 2 MiB, the
// other has delivered most of its own.
func TestStreamsShareFairly(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond, Rate: 4 << 20}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, netem.Config{Delay: 5 * time.Millisecond}, nil)
		defer p.stop()
		const size = 2 << 20
		var xs [2]*session.Stream
		for i := range xs {
			xs[i], _ = p.a.OpenStream(context.Background())
			go func() { xs[i].Write(make([]byte, size)); xs[i].CloseWrite() }()
		}
		var got [2]int64
		var mu sync.Mutex
		first := make(chan [2]int64, 2)
		for range xs {
			bx, err := p.b.AcceptStream(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			k := 0
			if bx.ID() == xs[1].ID() {
				k = 1
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := bx.Read(buf)
					mu.Lock()
					got[k] += int64(n)
					snap := got
					mu.Unlock()
					if err != nil {
						first <- snap
						return
					}
				}
			}()
		}
		snap := <-first
		<-first
		lo := min(snap[0], snap[1])
		if lo < size*8/10 {
			t.Errorf("when one stream finished, the other had %d of %d bytes: not a fair share", lo, size)
		}
	})
}

// TestCloseAfterEOFCreditsOnce: a stream read to its end and then closed
// credits its bytes to the connection window once. Crediting them again
// (once as read, once more as settled by Close) pushed the consumed count
// past the announced limit, after which no MAX_DATA was ever sent: the next
// stream stalled on connection credit.
func TestCloseAfterEOFCreditsOnce(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	const w = 256 << 10
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			b.Local.InitialMaxData, a.Peer.InitialMaxData = w, w
			b.Local.InitialMaxStreamData, a.Peer.InitialMaxStreamData = w, w
			b.MaxConnWindow, b.MaxStreamWindow = w, w
			a.MaxMessageSize, b.MaxMessageSize = 64<<10, 64<<10
		})
		defer p.stop()
		ctx := context.Background()
		for i, n := range []int{200 << 10, 1 << 20} {
			x, err := p.a.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			data := streamData(21, i, n)
			done := writeAndClose(x, data)
			bx := acceptID(t, p.b, x.ID())
			got, err := io.ReadAll(bx)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("stream %d: %d bytes, %v; want its %d bytes", i, len(got), err, n)
			}
			bx.Close()
			if err := <-done; err != nil {
				t.Fatalf("writer of stream %d: %v", i, err)
			}
			if recvd, consumed := p.b.ConnFlow(); consumed != recvd {
				t.Errorf("after stream %d: %d bytes received, %d credited as consumed", i, recvd, consumed)
			}
		}
	})
}

// TestMaxStreamsAfterReadEOF: a peer's stream that ends when the reader
// reaches its end (or when it is closed, its sending side done) raises the
// peer's stream limit at once, not with the next packet that happens to
// leave.
func TestMaxStreamsAfterReadEOF(t *testing.T) {
	for _, byClose := range []bool{false, true} {
		name := "Read"
		if byClose {
			name = "Close"
		}
		t.Run(name, func(t *testing.T) {
			d := netem.Config{Delay: 5 * time.Millisecond}
			synctest.Test(t, func(t *testing.T) {
				p := streamPair(t, d, d, func(a, b *session.Config) { b.Local.MaxStreams, a.Peer.MaxStreams = 1, 1 })
				defer p.stop()
				ctx := context.Background()
				x, _ := p.a.OpenStream(ctx)
				x.Write([]byte("hello"))
				x.CloseWrite()
				bx := acceptID(t, p.b, x.ID())
				bx.CloseWrite()
				time.Sleep(time.Second) // virtual: every FIN and ACK has landed
				if byClose {
					bx.Close()
				} else if b, err := io.ReadAll(bx); err != nil || string(b) != "hello" {
					t.Fatalf("reader: %q, %v", b, err)
				}
				tctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				y, err := p.a.OpenStream(tctx)
				if err != nil {
					t.Fatalf("OpenStream after the peer's only stream ended: %v\nB: %s", err, p.b.DebugState())
				}
				y.Abort(1)
			})
		})
	}
}

// TestDeadlineSetWhileParked: a deadline set while a Read or a Write is
// already parked (no deadline was ever set before) ends it.
func TestDeadlineSetWhileParked(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			a.StreamSendBuffer = 64 << 10
			b.Local.InitialMaxStreamData, a.Peer.InitialMaxStreamData = 256<<10, 256<<10
			b.MaxStreamWindow = 256 << 10
			a.MaxMessageSize, b.MaxMessageSize = 64<<10, 64<<10
			a.WindowWaitTimeout = -1
		})
		defer p.stop()
		x, _ := p.a.OpenStream(context.Background())
		rres := make(chan error, 1)
		go func() {
			_, err := x.Read(make([]byte, 10))
			rres <- err
		}()
		wres := make(chan error, 1)
		go func() {
			_, err := x.Write(make([]byte, 4<<20)) // nobody reads at B: parks
			wres <- err
		}()
		time.Sleep(time.Second) // virtual: both park
		x.SetDeadline(time.Now().Add(100 * time.Millisecond))
		for _, c := range []struct {
			name string
			ch   chan error
		}{{"Read", rres}, {"Write", wres}} {
			select {
			case err := <-c.ch:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("parked %s: %v, want os.ErrDeadlineExceeded", c.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("parked %s still parked 5 s after its deadline", c.name)
			}
		}
		x.Abort(1)
	})
}

// TestCloseDuringCopy: a Close that lands while the reader copies out of
// the reassembly buffer (the kill finds rxReading set and leaves the
// buffer to the reader) still settles the stream when the copy ends: the
// bytes never read are credited to the connection window and the stream,
// its both directions done, is forgotten (the peer may open another).
func TestCloseDuringCopy(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) { b.Local.MaxStreams, a.Peer.MaxStreams = 1000, 1000 })
		defer p.stop()
		ctx := context.Background()
		for attempt := 0; attempt < 50; attempt++ {
			x, err := p.a.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x.Write(make([]byte, 3<<20)); err != nil {
				t.Fatal(err)
			}
			x.CloseWrite()
			bx := acceptID(t, p.b, x.ID())
			bx.CloseWrite()
			time.Sleep(2 * time.Second) // virtual: every byte, FIN and ACK landed
			res := make(chan error, 1)
			go func() {
				_, err := bx.Read(make([]byte, 1<<20))
				res <- err
			}()
			hit := false
		spin:
			for {
				select {
				case err := <-res:
					res <- err
					break spin
				default:
				}
				if bx.Copying() {
					bx.Close()
					hit = true
					break
				}
			}
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			if !hit {
				bx.Close()
				continue
			}
			time.Sleep(time.Second) // virtual
			if recvd, consumed := p.b.ConnFlow(); recvd != consumed {
				t.Errorf("attempt %d: %d bytes received, %d credited as consumed", attempt, recvd, consumed)
			}
			if n := p.b.StreamCount(); n != 0 {
				t.Errorf("attempt %d: B still holds %d streams\nB: %s", attempt, n, p.b.DebugState())
			}
			return
		}
		t.Skip("never caught the reader mid-copy")
	})
}

// TestConcurrentReadersTuning: readers of two streams read at once while
// their windows auto-tune (and grow the connection's window). Under -race
// this checks that what a reader reads without the session's lock is not
// written under it by another stream's reader.
func TestConcurrentReadersTuning(t *testing.T) {
	d := netem.Config{Delay: 5 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, func(a, b *session.Config) {
			b.Local.InitialMaxStreamData, a.Peer.InitialMaxStreamData = 64<<10, 64<<10
			b.Local.InitialMaxData, a.Peer.InitialMaxData = 128<<10, 128<<10
			a.MaxMessageSize, b.MaxMessageSize = 32<<10, 32<<10
			b.MaxStreamWindow, b.MaxConnWindow = 4<<20, 8<<20
		})
		defer p.stop()
		ctx := context.Background()
		const streams, size = 2, 8 << 20
		var wg sync.WaitGroup
		for i := range streams {
			x, err := p.a.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := x.Write(streamData(31, i, size)); err != nil {
					t.Error(err)
				}
				x.CloseWrite()
			}()
		}
		for range streams {
			bx, err := p.b.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 1024)
				total := 0
				for {
					n, err := bx.Read(buf)
					total += n
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
				if total != size {
					t.Errorf("stream %d: %d bytes, want %d", bx.ID(), total, size)
				}
			}()
		}
		wg.Wait()
	})
}

// TestAbortForgetsLostPackets: a stream aborted while its packets are in
// flight, and lost, leaves nothing behind in the sent log. DropStream takes
// them out of the tracker, so no ACK and no loss declaration resolves them
// any more: their records would pin the log's base for good (the log then
// grows with every packet sent after), and the control frames they carried
// would never be sent again.
func TestAbortForgetsLostPackets(t *testing.T) {
	d := netem.Config{Delay: 10 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		p := streamPair(t, d, d, nil)
		defer p.stop()
		ctx := context.Background()
		x, _ := p.a.OpenStream(ctx)
		if _, err := x.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // virtual: x's bytes acknowledged
		p.ab.blackhole.Store(true)
		if _, err := x.Write(make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // virtual: x's packets left, and are lost; no loss declared yet
		if _, mine, _ := p.a.FlightBooks(x); mine == 0 {
			t.Fatal("x has nothing in flight: the test proves nothing")
		}
		x.Abort(1)
		time.Sleep(20 * time.Millisecond) // virtual: what was on the path is dropped on delivery
		p.ab.blackhole.Store(false)

		y, _ := p.a.OpenStream(ctx)
		data := streamData(41, 0, 4<<20)
		done := writeAndClose(y, data)
		by := acceptID(t, p.b, y.ID())
		if b, err := io.ReadAll(by); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("y: %d bytes, %v", len(b), err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		quiesce(t, p)
		if n, slots := p.a.LoggedPackets(); n != 0 {
			t.Errorf("at quiescence the sent log still holds %d records (%d slots)", n, slots)
		}
	})
}
