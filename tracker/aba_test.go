package tracker

import (
	"errors"
	"testing"
	"time"
)

// TestStaleChunkPointer is the ABA case the packet number in the state word
// exists for: a reader (an ACK, a DropStream, an Abandon) looks up packet 5,
// gets its chunk and slot, and is preempted; packet 5 is acked, its chunk is
// freed and recycled for packet numbers 2048..3071, and slot 5 now holds
// packet 2053 in flight. When the stale reader resumes and resolves "packet
// 5" through the slot it holds, it must release nothing and leave 2053
// alone, whatever phase and generation the new life has.
func TestStaleChunkPointer(t *testing.T) {
	for name, to := range map[string]phase{"ack": phaseAcked, "drop": phaseDropped, "abandon": phaseAbandoned} {
		t.Run(name, func(t *testing.T) {
			privateChunkPool(t)
			r := newRig(t, Config{})
			const old, reborn = 5, 2<<chunkBits | 5
			r.send(t, old, 1, 100, ms)
			staleC, staleE := r.t.pns.lookup(old) // the reader is preempted here

			r.ack(t, 2*ms, rng(old, old))  // chunk 0 holds nothing: freed, pooled
			r.send(t, reborn, 3, 70, 4*ms) // chunk 2 installed from the pool
			if c, e := r.t.pns.lookup(reborn); c != staleC || e != staleE {
				t.Fatal("precondition: chunk 0 was not recycled for chunk 2")
			}

			// The stale reader resumes: it loads the slot's word and tries
			// to move "packet 5" out of flight.
			s := staleE.state.Load()
			if n, ok := r.t.transition(staleC, staleE, old, s, to, 0); ok || n != 0 {
				t.Fatalf("stale resolve of packet %d through a recycled slot released %d", old, n)
			}
			if !r.t.InFlight(reborn) || staleE.state.Load() != s {
				t.Fatalf("packet %d disturbed by a stale reader of packet %d", reborn, old)
			}
			// The public paths for the old packet number release nothing.
			if r.t.Abandon(old) != 0 || r.t.DropStream(1) != 0 || r.retransmit(old, 3<<chunkBits, 10, 6*ms) == nil || r.ack(t, 6*ms, rng(old, old)).AckedBytes != 0 {
				t.Fatalf("packet %d released twice", old)
			}
			if !r.t.InFlight(reborn) {
				t.Fatalf("packet %d lost", reborn)
			}
			r.checkBooks(t)
		})
	}
}

// TestChunkMovesBetweenTrackers: chunks come from a pool shared by all
// trackers, and connections use the same packet numbers. Tracker A's chunk
// 0, holding packet 5 lost and retransmitted, is freed and installed as
// tracker B's chunk 0. B's books must not see A's packet: an ACK of 5 at B
// (never sent by B) reports no spurious loss, and a stale reader of A
// holding the chunk cannot pin it as A's.
func TestChunkMovesBetweenTrackers(t *testing.T) {
	privateChunkPool(t)
	a, b := newRig(t, Config{}), newRig(t, Config{})
	for pn := uint64(5); pn < 9; pn++ {
		a.send(t, pn, 1, 100, ms)
	}
	a.ack(t, 2*ms, rng(6, 8))
	if got, _ := a.t.DueForResend(nil, 3*ms, rtt10); len(got) != 1 || got[0].PN != 5 {
		t.Fatalf("handed out %+v, want packet 5", got)
	}
	c0, _ := a.t.pns.lookup(5)
	if err := a.retransmit(5, 1<<chunkBits, 100, 4*ms); err != nil { // in chunk 1
		t.Fatal(err)
	}
	if a.t.Stats().Chunks != 1 {
		t.Fatal("precondition: A's chunk 0 not freed")
	}
	b.send(t, 3, 2, 70, 10*ms)
	b.send(t, 6, 2, 70, 10*ms)
	if c, _ := b.t.pns.lookup(3); c != c0 {
		t.Fatal("precondition: A's chunk 0 was not installed as B's chunk 0")
	}
	if a.t.pns.pinned(c0, 0) {
		t.Fatal("A pinned a chunk that is B's now")
	}
	if !b.t.pns.pinned(c0, 0) {
		t.Fatal("B could not pin its own chunk")
	}
	unref(c0)
	if res := b.ack(t, 30*ms, rng(5, 5)); res.Spurious != 0 || res.LateProbes != 0 || res.AckEliciting || res.AckedBytes != 0 {
		t.Fatalf("B's ACK of a packet number only A sent: %+v", res)
	}
	if res := b.ack(t, 30*ms, rng(3, 3)); res.AckedBytes != 70 || !res.RTTValid || res.LatestRTT != 20*time.Millisecond {
		t.Fatalf("B's ACK of its own packet: %+v", res)
	}
	if res := a.ack(t, 31*ms, rng(5, 5)); res.Spurious != 0 || res.AckEliciting {
		t.Fatalf("A's ACK of a packet whose chunk is gone: %+v", res)
	}
	if a.t.Abandon(5) != 0 || a.t.InFlight(3) || a.t.InFlight(6) {
		t.Fatal("A reached B's packets")
	}
	a.checkBooks(t)
	b.checkBooks(t)
}

// TestRecycledChunkForgetsItsPackets: tracker A's chunk 0, holding packet 2
// acknowledged, is recycled as tracker B's chunk 0. At B, packet 2 was
// never sent: Retransmit of it says ErrNotLost, not A's ErrAcked (FuzzTracker
// found the stale word answering for B's packet number).
func TestRecycledChunkForgetsItsPackets(t *testing.T) {
	privateChunkPool(t)
	a, b := newRig(t, Config{}), newRig(t, Config{})
	a.send(t, 2, 1, 100, ms)
	c0, _ := a.t.pns.lookup(2)
	a.ack(t, 2*ms, rng(2, 2))
	b.send(t, 0, 1, 100, 3*ms)
	if c, _ := b.t.pns.lookup(0); c != c0 {
		t.Fatal("precondition: A's chunk 0 was not installed as B's chunk 0")
	}
	if err := b.retransmit(2, 1, 10, 4*ms); !errors.Is(err, ErrNotLost) {
		t.Fatalf("Retransmit of a packet B never sent: %v, want ErrNotLost", err)
	}
	if ph := b.t.phaseOf(2); ph != phaseEmpty {
		t.Fatalf("B sees packet 2 in phase %v", ph)
	}
	b.checkBooks(t)
}
