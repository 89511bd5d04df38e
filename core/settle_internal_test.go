package core

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestSettleWaitsForCreation: a LoadOrCreate that read closed false is held
// inside its compute (its claim of an address waits on the displaced peer's
// address writer, which the test holds) when Close's order runs: closed is
// set, settle, then the sweep's Range. The record it goes on to create must
// be visited by that Range, or Close would leave it un-swept (Range takes no
// lock; settle is what waits the compute out). The test releases the compute
// right after starting the closer, so a settle that did not wait would let
// the Range run first in most rounds; a correct settle passes every round.
func TestSettleWaitsForCreation(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	addr := netip.MustParseAddrPort("192.0.2.1:1")
	ka := keyOf(addr)
	deadline := time.Now().Add(2 * time.Second)
	for round := 0; round < 100 && (round == 0 || time.Now().Before(deadline)); round++ {
		tab := NewTable(PeerKey{}, 0)
		q, _ := tab.LoadOrCreate(PeerKey{1}, addr)
		s := q.addr.lockWriter() // the creator's claim of addr waits in q.addr.clearIf

		kg := PeerKey{2, byte(round)}
		created := make(chan bool)
		go func() {
			_, c := tab.LoadOrCreate(kg, addr)
			created <- c
		}()
		// The creator holds addr's byAddr shard only inside claimLocked,
		// which it reaches after reading closed (false: not yet set).
		sh := tab.byAddr.shard(tab.byAddr.hash(&ka))
		for spins := 0; sh.mu.TryLock(); spins++ {
			sh.mu.Unlock()
			if spins > 10_000_000 {
				t.Fatal("the creator never reached its claim")
			}
			runtime.Gosched()
		}

		tab.closed.Store(true)
		swept := make(chan bool)
		go func() {
			tab.settle()
			seen := false
			tab.Range(func(p *Peer) bool {
				seen = seen || p.key == kg
				return true
			})
			swept <- seen
		}()
		q.addr.seq.Store(s) // release the creator
		if !<-created {
			t.Fatal("the creator saw closed set: the test did not hold it in its compute")
		}
		if !<-swept {
			t.Fatalf("round %d: a record created by a compute that saw closed false was not visited by the Range after settle", round)
		}
	}
}
