package core_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"go.uber.org/goleak"
)

// The sequential model of one peer's registry slot. Session ids are < 64 so
// the set of dead sessions is a bitmask and the state is comparable.
type slotState struct {
	cur   uint64 // installed session id, 0 = empty
	curIn bool   // direction of cur
	dead  uint64 // bit i: session i is dead (IsAlive false)
}

type (
	opSwap struct {
		incoming bool
		id       uint64 // the session build would return
	}
	opRemove struct{ id uint64 }
	opLoad   struct{}
	opKill   struct{ id uint64 }
	swapOut  struct {
		kept                    bool
		existing, replaced, new uint64
	}
)

// slotModel is the registry's contract, sequentially: Swap installs unless a
// live session wins the rule; RemoveIfMatches empties the slot only for the
// installed session; Load reads it; Kill marks a session dead.
func slotModel(localLower bool) porcupine.Model {
	newWins := func(curIn, newIn bool) bool {
		if curIn == newIn {
			return true
		}
		// The connection initiated by the lower key wins: that is the
		// outgoing one iff local is lower.
		return newIn != localLower
	}
	return porcupine.Model{
		Init: func() any { return slotState{} },
		Step: func(st, in, out any) (bool, any) {
			s := st.(slotState)
			switch op := in.(type) {
			case opSwap:
				o := out.(swapOut)
				alive := s.cur != 0 && s.dead&(1<<s.cur) == 0
				if alive && !newWins(s.curIn, op.incoming) {
					return o == swapOut{kept: true, existing: s.cur}, s
				}
				ok := o == swapOut{replaced: s.cur, new: op.id}
				s.cur, s.curIn = op.id, op.incoming
				return ok, s
			case opRemove:
				if s.cur == op.id && op.id != 0 {
					s.cur = 0
					return out.(bool), s
				}
				return !out.(bool), s
			case opLoad:
				return out.(uint64) == s.cur, s
			case opKill:
				s.dead |= 1 << op.id
				return true, s
			}
			panic(fmt.Sprintf("unknown op %T", in))
		},
		DescribeOperation: func(in, out any) string { return fmt.Sprintf("%#v -> %#v", in, out) },
	}
}

// TestRegistryLinearizable records concurrent histories of Swap,
// RemoveIfMatches, Load and session death on one peer and checks each
// against the sequential model with porcupine.
func TestRegistryLinearizable(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const rounds, clients, opsPerClient, maxID = 40, 3, 14, 40
	for _, localLower := range []bool{true, false} {
		t.Run(fmt.Sprintf("localLower=%v", localLower), func(t *testing.T) {
			local, remote := keyN(1), keyN(2)
			if !localLower {
				local, remote = remote, local
			}
			for round, more := 0, bounded(rounds, 5*time.Second); more(round); round++ {
				tab := core.NewTable(local, 0)
				sessions := make([]*sessiontest.Session, maxID+1)
				for i := 1; i <= maxID; i++ {
					sessions[i] = sessiontest.New(uint64(i))
				}
				var clock atomic.Int64
				var nextID atomic.Uint64
				ops := make([][]porcupine.Operation, clients)
				var wg sync.WaitGroup
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := rand.New(rand.NewPCG(uint64(round), uint64(c)))
						for range opsPerClient {
							var op porcupine.Operation
							op.ClientId = c
							k := r.IntN(10)
							id := uint64(r.IntN(maxID) + 1)
							switch {
							case k < 4:
								nid := nextID.Add(1)
								if nid > maxID {
									continue
								}
								in := opSwap{incoming: r.IntN(2) == 0, id: nid}
								op.Input = in
								op.Call = clock.Add(1)
								res := tab.Swap(remote, in.incoming, func() core.Session { return sessions[nid] })
								op.Return = clock.Add(1)
								op.Output = swapOut{kept: res.Kept, existing: sessID(res.Existing), replaced: sessID(res.Replaced), new: sessID(res.New)}
							case k < 7:
								op.Input = opRemove{id: id}
								op.Call = clock.Add(1)
								ok := tab.RemoveIfMatches(remote, sessions[id])
								op.Return = clock.Add(1)
								op.Output = ok
							case k < 9:
								op.Input = opLoad{}
								op.Call = clock.Add(1)
								s := tab.Session(remote)
								op.Return = clock.Add(1)
								op.Output = sessID(s)
							default:
								op.Input = opKill{id: id}
								op.Call = clock.Add(1)
								sessions[id].MarkDead()
								op.Return = clock.Add(1)
								op.Output = nil
							}
							ops[c] = append(ops[c], op)
						}
					}()
				}
				wg.Wait()
				var history []porcupine.Operation
				for _, o := range ops {
					history = append(history, o...)
				}
				res := porcupine.CheckOperationsTimeout(slotModel(localLower), history, 10*time.Second)
				if res != porcupine.Ok {
					t.Fatalf("round %d: history not linearizable (%s): %v", round, res, history)
				}
			}
		})
	}
}

// TestRegistryModelRejectsDoubleRemove proves the checker above can fail:
// two RemoveIfMatches of the same session that both return true — the
// outcome of a naive load-compare-delete registry — is not linearizable.
func TestRegistryModelRejectsDoubleRemove(t *testing.T) {
	history := []porcupine.Operation{
		{ClientId: 0, Input: opSwap{incoming: false, id: 1}, Call: 0, Output: swapOut{new: 1}, Return: 1},
		{ClientId: 0, Input: opRemove{id: 1}, Call: 2, Output: true, Return: 5},
		{ClientId: 1, Input: opRemove{id: 1}, Call: 3, Output: true, Return: 6},
	}
	if porcupine.CheckOperations(slotModel(true), history) {
		t.Fatal("the model accepted two removals of one session")
	}
	history[2].Output = false
	if !porcupine.CheckOperations(slotModel(true), history) {
		t.Fatal("the model rejected a correct history")
	}
}
