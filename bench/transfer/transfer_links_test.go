package transfer

import (
	"context"
	"testing"
)

// TestLinks moves a little over every link of BenchmarkTransfer, clean and
// through the default impaired cell where the loss matrix runs it, and
// checks each run moved every byte (move fails otherwise) and, impaired,
// that the relay carried both directions. TestMain checks nothing leaks.
func TestLinks(t *testing.T) {
	for _, name := range names {
		s, ok := setups[name]
		if !ok {
			continue // udp-blast: TestBlast
		}
		for _, c := range []*cell{nil, defaultCell} {
			if c != nil && name == "tcp" {
				continue
			}
			t.Run(name+map[bool]string{true: "/impaired", false: ""}[c != nil], func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), bound)
				defer cancel()
				l, err := dial(ctx, s, c)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				f, err := openFlows(ctx, l, 1)
				if err != nil {
					t.Fatal(err)
				}
				if err := move(l, f, 64<<10); err != nil {
					t.Fatal(err)
				}
				if c != nil {
					if fwd, rev := l.relay.Stats(); fwd.Received == 0 || rev.Received == 0 {
						t.Fatalf("relay carried %d datagrams forward, %d back", fwd.Received, rev.Received)
					}
				}
			})
		}
	}
}

// TestBlast: a blast delivers bytes, never more than were sent, and counts
// only whole data datagrams.
func TestBlast(t *testing.T) {
	p, err := newBlastPair()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 1 << 20
	got, elapsed, err := p.blast(n)
	if err != nil {
		t.Fatal(err)
	}
	sent := int64((n + blastDatagram - 1) / blastDatagram * blastDatagram)
	if got <= 0 || got > sent || got%blastDatagram != 0 || elapsed <= 0 {
		t.Fatalf("received %d bytes of %d sent in %v: want some, whole datagrams, at most all", got, sent, elapsed)
	}
}

// TestPeers sets up a few peers per transport and moves a little on
// every stream at once.
func TestPeers(t *testing.T) {
	for name, s := range map[string]peersSetup{"petrel": petrelPeers, "quic-go": quicPeers} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			l := &link{}
			defer l.Close()
			f, err := s(ctx, l, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.ws) != 5 || len(f.rs) != 5 {
				t.Fatalf("%d and %d streams, want 5", len(f.ws), len(f.rs))
			}
			if err := move(l, f, 32<<10); err != nil {
				t.Fatal(err)
			}
		})
	}
}
