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

// TestRecycledSlotForgetsLoss: a slot whose packet was lost and
// retransmitted is recycled for a new packet; an ACK of that new packet is
// an ordinary ACK (bytes released, not reported as spurious), and an ACK
// of the old packet number reports nothing once its chunk is gone.
func TestRecycledSlotForgetsLoss(t *testing.T) {
	r := newRig(t, Config{})
	const old, reborn = 5, 2<<chunkBits | 5
	r.send(t, old, 1, 100, ms)
	r.send(t, 1<<chunkBits, 1, 10, ms) // passes chunk 0's frontier
	r.send(t, 1<<chunkBits+1, 1, 10, ms)
	r.send(t, 1<<chunkBits+2, 1, 10, ms)
	r.send(t, 1<<chunkBits+3, 1, 10, ms)
	r.ack(t, 2*ms, rng(1<<chunkBits, 1<<chunkBits+3))
	if got, _ := r.t.DueForResend(nil, 3*ms, rtt10); len(got) != 1 || got[0].PN != old {
		t.Fatalf("handed out %+v, want packet %d", got, old)
	}
	c0, _ := r.t.pns.lookup(old)
	if err := r.retransmit(old, 1<<chunkBits+4, 100, 4*ms); err != nil {
		t.Fatal(err)
	}
	if r.t.Stats().Chunks != 1 {
		t.Fatal("precondition: chunk 0 not freed after its last packet was retransmitted")
	}
	r.send(t, reborn, 3, 70, 10*ms)
	if c, _ := r.t.pns.lookup(reborn); c != c0 {
		t.Skip("chunk 0 was not recycled for chunk 2 (the pool gave another)")
	}
	if res := r.ack(t, 30*ms, rng(reborn, reborn)); res.AckedBytes != 70 || res.Spurious != 0 || !res.RTTValid || res.LatestRTT != 20*time.Millisecond {
		t.Fatalf("ACK of a first packet in a recycled slot: %+v", res)
	}
	if res := r.ack(t, 31*ms, rng(old, old)); res.AckedBytes != 0 || res.Spurious != 0 || res.AckEliciting {
		t.Fatalf("ACK of a packet number whose chunk is gone: %+v", res)
	}
	r.checkBooks(t)
}
