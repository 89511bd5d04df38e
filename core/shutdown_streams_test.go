package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/internal/netem"
)

// Graceful shutdown with streams in flight (DESIGN.md invariant 9,
// "nothing is reported sent that was not acknowledged", and the Stream
// contract of core/session): when a connection or a node closes, every
// stream still running ends with a *StreamAbortError on both sides; a
// reader sees io.EOF only after every byte of a writer that finished; and
// no call reports a direction as ended whole that was not acknowledged
// whole (CloseWrite and Close return the stream's early end).

// shutdownStage is how far a stream got when the close comes.
type shutdownStage int

const (
	stageRead     shutdownStage = iota // written whole, FIN, read to EOF before the close
	stageUnread                        // written whole, FIN, nothing read before the close
	stageFinInAir                      // written whole and FIN at the instant of the close
	stageHalf                          // the writer is in the middle of a large Write; the reader reads
	stageStalled                       // the writer is in the middle of a large Write; nobody reads
	numStages
)

func (s shutdownStage) String() string {
	return [...]string{"read", "unread", "fin-in-air", "half", "stalled"}[s]
}

// finished reports whether the writer ended its direction (CloseWrite).
func (s shutdownStage) finished() bool { return s <= stageFinInAir }

// shutdownStream is one stream of the test and what each side saw.
type shutdownStream struct {
	stage    shutdownStage
	dir      string
	data     []byte
	w, r     *core.Stream
	wrote    int   // bytes the writer's Write calls accepted
	writeErr error // the writer's Write (or first CloseWrite) error
	got      []byte
	readErr  error // ReadAll's: nil means io.EOF
	closeErr error // the writer's CloseWrite after the close
}

// shutdownBytes is stream i's content: n bytes from a seeded generator.
func shutdownBytes(i, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(i), 0x5d})
	_, _ = r.Read(b)
	return b
}

// TestShutdownWithStreamsInFlight closes, in turn, each side's connection
// and each side's node while ten streams (five stages, both directions)
// are in flight, over the simulated network in virtual time, and checks
// what every writer and reader is told.
func TestShutdownWithStreamsInFlight(t *testing.T) {
	var total, aborted, falseDelivery int
	for _, closer := range []string{"dialler-conn", "acceptor-conn", "dialler-node", "acceptor-node"} {
		t.Run(closer, func(t *testing.T) {
			n, ab, fd := shutdownRound(t, closer)
			total, aborted, falseDelivery = total+n, aborted+ab, falseDelivery+fd
		})
	}
	if !t.Failed() {
		t.Logf("RELIABILITY shutdown streams=%d aborted_both_sides=%d false_delivery=%d closers=4", total, aborted, falseDelivery)
	}
}

// shutdownRound runs one close and returns the streams, the unfinished
// streams that both sides saw aborted, and the false deliveries.
func shutdownRound(t *testing.T, closer string) (streams, abortedBoth, falseDelivery int) {
	defer goleak.VerifyNone(t, leakOpts...)
	synctest.Test(t, func(t *testing.T) {
		// 10 MB/s: the unfinished streams are still moving at the close.
		nw := simNetwork(t, 9, netem.Config{Delay: 10 * time.Millisecond, Rate: 10 << 20})
		a := simNode(t, nw, "10.0.0.1:4000", core.Config{})
		b := simNode(t, nw, "10.0.0.2:4000", core.Config{})
		defer b.Close()
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // virtual
		defer cancel()
		ca, cb := connect(t, ctx, a, b)

		var all []*shutdownStream
		var wg sync.WaitGroup
		var readDone sync.WaitGroup // the stageRead readers, done before the close
		for _, d := range []struct {
			name string
			w, r *core.Conn
		}{{"a->b", ca, cb}, {"b->a", cb, ca}} {
			for stage := range numStages {
				size := 64 << 10
				if !stage.finished() {
					size = 8 << 20 // far more than the windows let through before the close
				}
				ss := &shutdownStream{stage: stage, dir: d.name, data: shutdownBytes(len(all), size)}
				all = append(all, ss)
				var err error
				if ss.w, err = d.w.OpenStream(ctx); err != nil {
					t.Fatal(err)
				}
				// The first KiB makes the stream known to the peer, which
				// hands it to AcceptStream in the order of opening.
				if ss.wrote, err = ss.w.Write(ss.data[:1024]); err != nil {
					t.Fatal(err)
				}
				if ss.r, err = d.r.AcceptStream(ctx); err != nil {
					t.Fatal(err)
				}
				if ss.r.ID() != ss.w.ID() {
					t.Fatalf("accepted stream %d, want %d", ss.r.ID(), ss.w.ID())
				}
				switch stage {
				case stageRead, stageUnread:
					n, err := ss.w.Write(ss.data[1024:])
					ss.wrote += n
					if err == nil {
						err = ss.w.CloseWrite()
					}
					ss.writeErr = err
				case stageHalf, stageStalled:
					wg.Go(func() {
						n, err := ss.w.Write(ss.data[1024:]) // parks: returns only at the end
						ss.wrote += n
						ss.writeErr = err
					})
				}
				switch stage {
				case stageRead:
					readDone.Go(func() { ss.got, ss.readErr = io.ReadAll(ss.r) })
				case stageHalf:
					wg.Go(func() { ss.got, ss.readErr = io.ReadAll(ss.r) })
				}
			}
		}
		readDone.Wait()
		time.Sleep(100 * time.Millisecond) // virtual: the unfinished streams move data, the finished ones are acknowledged
		for _, ss := range all {
			if ss.stage == stageFinInAir { // at the very instant of the close
				n, err := ss.w.Write(ss.data[1024:])
				ss.wrote += n
				if err == nil {
					err = ss.w.CloseWrite()
				}
				ss.writeErr = err
			}
		}

		switch closer {
		case "dialler-conn":
			ca.Close()
		case "acceptor-conn":
			cb.Close()
		case "dialler-node":
			a.Close()
		case "acceptor-node":
			b.Close()
		}
		// The readers that had not read read now: what is left for them.
		for _, ss := range all {
			if ss.stage == stageUnread || ss.stage == stageFinInAir || ss.stage == stageStalled {
				wg.Go(func() { ss.got, ss.readErr = io.ReadAll(ss.r) })
			}
		}
		wg.Wait() // every parked call has returned: the close reached both sides
		for _, ss := range all {
			ss.closeErr = ss.w.CloseWrite()
		}
		if ca.Err() == nil || cb.Err() == nil {
			t.Errorf("after the close: dialler's conn %v, acceptor's %v; both must have ended", ca.Err(), cb.Err())
		}

		var ae *core.StreamAbortError
		for _, ss := range all {
			name := fmt.Sprintf("%s stream %d (%s)", ss.dir, ss.w.ID(), ss.stage)
			streams++
			if !bytes.Equal(ss.got, ss.data[:min(len(ss.got), len(ss.data))]) || len(ss.got) > ss.wrote {
				falseDelivery++
				t.Errorf("%s: the reader got %d bytes that are not a prefix of the %d written", name, len(ss.got), ss.wrote)
			}
			if ss.readErr == nil && (!ss.stage.finished() || len(ss.got) != len(ss.data)) {
				falseDelivery++
				t.Errorf("%s: the reader saw io.EOF after %d of %d bytes, but the writer did not finish", name, len(ss.got), len(ss.data))
			}
			switch {
			case ss.stage == stageRead:
				if ss.readErr != nil || ss.writeErr != nil || ss.closeErr != nil {
					t.Errorf("%s: a stream done before the close: read %v, write %v, CloseWrite %v; want nil", name, ss.readErr, ss.writeErr, ss.closeErr)
				}
			case !ss.stage.finished():
				// The writer learns of the end from its parked Write, or,
				// had every byte fit its buffer, from CloseWrite.
				wErr := ss.writeErr
				if wErr == nil {
					wErr = ss.closeErr
				}
				readAborted := errors.As(ss.readErr, &ae)
				writeAborted := errors.As(wErr, &ae)
				if readAborted && writeAborted {
					abortedBoth++
				} else {
					t.Errorf("%s: the reader got %v, the writer %v; want a *StreamAbortError on both sides", name, ss.readErr, wErr)
				}
				if ss.closeErr == nil {
					falseDelivery++
					t.Errorf("%s: CloseWrite after the close returned nil for a direction that ended after %d of %d bytes", name, ss.wrote, len(ss.data))
				}
			default: // finished writers, unread at the close
				if ss.readErr != nil && !errors.As(ss.readErr, &ae) {
					t.Errorf("%s: the reader got %v; want io.EOF after every byte or a *StreamAbortError", name, ss.readErr)
				}
				if ss.closeErr != nil && !errors.As(ss.closeErr, &ae) {
					t.Errorf("%s: CloseWrite after the close: %v; want nil (acknowledged whole) or a *StreamAbortError", name, ss.closeErr)
				}
			}
			if ss.readErr != nil && errors.Is(ss.readErr, io.EOF) {
				t.Errorf("%s: the reader's error %v matches io.EOF", name, ss.readErr)
			}
			if ss.stage == stageFinInAir && ss.closeErr == nil {
				// The FIN left at the instant of the close: no
				// acknowledgement can have come back (10 ms each way).
				falseDelivery++
				t.Errorf("%s: CloseWrite returned nil after the close though the FIN was never acknowledged", name)
			}
			t.Logf("%s: wrote %d, read %d (%v), write %v, CloseWrite after %v", name, ss.wrote, len(ss.got), ss.readErr, ss.writeErr, ss.closeErr)
		}
	})
	return streams, abortedBoth, falseDelivery
}
