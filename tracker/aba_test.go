package tracker

import (
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
			r := newRig(t, Config{})
			const old, reborn = 5, 2<<chunkBits | 5
			r.send(t, old, 1, 100, ms)
			staleC, staleE := r.t.pns.lookup(old) // the reader is preempted here

			r.ack(t, 2*ms, rng(old, old))
			r.send(t, 1<<chunkBits, 2, 10, 3*ms) // passes chunk 0's frontier: freed, pooled
			r.send(t, reborn, 3, 70, 4*ms)       // chunk 2 installed from the pool
			if c, e := r.t.pns.lookup(reborn); c != staleC || e != staleE {
				t.Fatal("precondition: chunk 0 was not recycled for chunk 2")
			}
			if !r.t.Refresh(reborn, 0, 5*ms) { // any generation: only pn tells the lives apart
				t.Fatal("Refresh of the new life failed")
			}

			// The stale reader resumes: it loads the slot's word and tries
			// to move "packet 5" out of flight.
			s := staleE.state.Load()
			if n, ok := r.t.resolve(staleC, staleE, old, s, to); ok || n != 0 {
				t.Fatalf("stale resolve of packet %d through a recycled slot released %d", old, n)
			}
			if !r.t.InFlight(reborn) || staleE.state.Load() != s {
				t.Fatalf("packet %d disturbed by a stale reader of packet %d", reborn, old)
			}
			// The public paths for the old packet number release nothing.
			if r.t.Abandon(old) != 0 || r.t.DropStream(1) != 0 || r.t.Refresh(old, 0, 6*ms) || r.ack(t, 6*ms, rng(old, old)).AckedBytes != 0 {
				t.Fatalf("packet %d released twice", old)
			}
			if !r.t.InFlight(reborn) {
				t.Fatalf("packet %d lost", reborn)
			}
			r.checkBooks(t)
		})
	}
}

// TestRecycledSlotForgetsRetransmission: a slot whose packet was
// retransmitted is recycled for a new packet; that packet's first copy is
// not a retransmission, so its ACK gives an RTT sample.
func TestRecycledSlotForgetsRetransmission(t *testing.T) {
	r := newRig(t, Config{})
	const old, reborn = 5, 2<<chunkBits | 5
	r.send(t, old, 1, 100, ms)
	if !r.t.Refresh(old, 0, 2*ms) {
		t.Fatal("Refresh failed")
	}
	c0, _ := r.t.pns.lookup(old)
	r.ack(t, 3*ms, rng(old, old))
	r.send(t, 1<<chunkBits, 2, 10, 4*ms) // chunk 0 freed, pooled
	r.send(t, reborn, 3, 70, 10*ms)
	if c, _ := r.t.pns.lookup(reborn); c != c0 {
		t.Fatal("precondition: chunk 0 was not recycled for chunk 2")
	}
	if res := r.ack(t, 30*ms, rng(reborn, reborn)); !res.RTTValid || res.LatestRTT != 20*time.Millisecond {
		t.Fatalf("ACK of a first copy in a recycled slot: %+v, want an RTT sample of 20ms", res)
	}
	r.checkBooks(t)
}
