package session_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/session"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/netem"
)

// forger seals packets as A of a newPair (the same secrets), so a test can
// make A's side send frames A's session never would: a misbehaving peer
// that holds the keys.
type forger struct {
	t    *testing.T
	p    *pair
	prot *secure.Protector
	pn   uint64
}

func newForger(t *testing.T, p *pair) *forger {
	var s1, s2 [32]byte
	for i := range s1 {
		s1[i], s2[i] = byte(i), byte(100+i) // newPair's secrets
	}
	prot, err := secure.NewProtector(secure.AES128GCM, &s1, &s2, secure.ProtectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Packet numbers far above A's own, so B's replay window takes them.
	return &forger{t: t, p: p, prot: prot, pn: 1 << 20}
}

// send seals frames into one packet to B and puts it on the A->B link.
func (f *forger) send(frames []byte) {
	f.t.Helper()
	pn := f.pn
	f.pn++
	key, err := f.prot.SealKey(pn, f.p.clk.now())
	if err != nil {
		f.t.Fatal(err)
	}
	h := wire.ShortHeader{KeyPhase: key.Phase(), DCID: wire.ConnID{2}, PN: pn, PNLen: 4, Length: 4 + len(frames) + secure.SealOverhead}
	pkt := wire.AppendShortHeader(nil, &h)
	hdrLen := len(pkt)
	pkt = append(pkt, frames...)
	if err := f.p.ab.Send(addrB, [][]byte{key.Seal(pkt, hdrLen, pn)}); err != nil {
		f.t.Fatal(err)
	}
}

// streamBytes sends n bytes of A's stream k (id 4k) from offset off, in
// frames of at most 1000 bytes, one per packet.
func (f *forger) streamBytes(k, off, n uint64) {
	f.t.Helper()
	data := make([]byte, 1000)
	for n > 0 {
		c := min(n, 1000)
		f.send(wire.AppendStreamFrame(nil, 4*k, off, data[:c], false, true))
		off += c
		n -= c
	}
}

// misbehavingPair is a pair whose B sees A's packets and forged ones, and
// whose packets never reach A (so A's session, which did not send the
// forged packets, never sees their acknowledgements); closed receives B's
// end.
func misbehavingPair(t *testing.T, tune func(b *session.Config)) (*pair, *forger, chan error) {
	closed := make(chan error, 1)
	pc := pairConfig{
		ab:       netem.Config{Delay: time.Millisecond},
		ba:       netem.Config{Loss: 1},
		onCloseB: func(err error) { closed <- err },
	}
	pc.cfgB.Responder = true
	tune(&pc.cfgB)
	p := newPair(t, pc)
	return p, newForger(t, p), closed
}

// wantViolation checks that B ended for a protocol violation it counted,
// and that before it, B had stayed up and counted none.
func wantViolation(t *testing.T, p *pair, closed chan error, before session.Stats) {
	t.Helper()
	if before.DropsProtocol != 0 {
		t.Fatalf("within the limits, B counted %d protocol violations", before.DropsProtocol)
	}
	select {
	case err := <-closed:
		if !errors.Is(err, session.ErrProtocol) {
			t.Fatalf("B ended with %v, want a protocol violation", err)
		}
	case <-time.After(time.Second): // virtual
		t.Fatal("B is still up after the violation")
	}
	if got := p.b.Stats().DropsProtocol; got != 1 {
		t.Errorf("B counted %d protocol violations, want 1", got)
	}
}

// TestPeerOverStreamLimit: a peer that opens more streams than B's
// MaxStreams (RFC 9000 section 4.6: STREAM_LIMIT_ERROR) ends the
// connection and is counted; up to the limit, every stream is accepted.
func TestPeerOverStreamLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 4
		p, f, closed := misbehavingPair(t, func(b *session.Config) { b.Local.MaxStreams = limit })
		defer p.stop()
		for k := uint64(1); k <= limit; k++ {
			f.streamBytes(k, 0, 10)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second) // virtual
		defer cancel()
		for range limit {
			if _, err := p.b.AcceptStream(ctx); err != nil {
				t.Fatalf("a stream within the limit: %v", err)
			}
		}
		before := p.b.Stats()
		if !p.b.IsAlive() {
			t.Fatalf("B ended within the limit: %v", p.b.Err())
		}
		f.streamBytes(limit+1, 0, 10)
		wantViolation(t, p, closed, before)
	})
}

// TestPeerBeyondWindow: a peer that sends beyond the stream window or the
// connection window B advertised (RFC 9000 section 4.1:
// FLOW_CONTROL_ERROR) ends the connection and is counted; B never holds
// more than its windows for it. Up to the windows, nothing happens.
func TestPeerBeyondWindow(t *testing.T) {
	const stream, conn = 16 << 10, 24 << 10
	tune := func(b *session.Config) {
		b.Local.InitialMaxStreamData, b.MaxStreamWindow = stream, stream
		b.Local.InitialMaxData, b.MaxConnWindow = conn, conn
		b.MaxMessageSize = 8 << 10
	}
	for _, tc := range []struct {
		name     string
		within   func(f *forger)
		violates func(f *forger)
	}{
		{"stream window",
			func(f *forger) { f.streamBytes(1, 0, stream) },
			func(f *forger) { f.streamBytes(1, stream, 1) }},
		{"connection window",
			func(f *forger) { f.streamBytes(1, 0, stream); f.streamBytes(2, 0, conn-stream) },
			func(f *forger) { f.streamBytes(2, conn-stream, 1) }},
		{"out of order, beyond the window",
			func(f *forger) { f.streamBytes(1, stream-1000, 1000) },
			func(f *forger) { f.streamBytes(1, 4*stream, 1000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, f, closed := misbehavingPair(t, tune)
				defer p.stop()
				tc.within(f)
				time.Sleep(100 * time.Millisecond) // virtual: B has processed it
				before := p.b.Stats()
				if !p.b.IsAlive() {
					t.Fatalf("B ended within its windows: %v", p.b.Err())
				}
				tc.violates(f)
				wantViolation(t, p, closed, before)
			})
		})
	}
}
