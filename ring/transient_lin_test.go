package ring

import (
	"errors"
	"fmt"
	randv2 "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.uber.org/goleak"
)

// A sequential model of TryReserve, Promote and Drop for porcupine: the
// states of linSlots slots, the budget in use and the established count.
//
// A successful Promote has two linearization points, not one: it joins the
// Established set (under the set's lock) and later, still under the slot's
// lock, returns its unit of budget. The manager promises linearizability per
// peer and in the budget, not one atomic step across the budget and the set
// (a separate object with its own lock), and no order of those two steps
// could be atomic without a manager-wide lock: releasing first would let a
// reservation take the unit before a join that may still fail with
// ErrEstablishedFull. So another goroutine can see the set full with the
// peer in it (its Promote returns ErrEstablishedFull) and then, after that
// returns, see the budget still spent (its TryReserve returns false). A model
// with one step per Promote rejects that real, harmless history; here a
// successful Promote is recorded as "promote" (the join: the slot goes to
// linPromoting, still holding its unit) plus "release" (the unit comes back)
// over the same interval, and no other operation of that slot may fall
// between the two, as the slot's lock forbids.
const (
	linSlots, linBudget, linMaxEst = 4, 2, 2

	linPromoting State = 100 // joined the set, unit not yet released
)

type linState struct {
	st         [linSlots]State
	count, est int
}

type linOp struct {
	kind string // "reserve", "promote", "release" (a Promote's second step), "drop"
	slot int
}

// promote outcomes, as comparable outputs.
const (
	outOK = iota
	outNotTransient
	outExpired
	outFull
	outOther
)

func promoteOutcome(err error) int {
	switch {
	case err == nil:
		return outOK
	case errors.Is(err, ErrNotTransient):
		return outNotTransient
	case errors.Is(err, ErrExpired):
		return outExpired
	case errors.Is(err, ErrEstablishedFull):
		return outFull
	}
	return outOther
}

var transientModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s, op := state.(linState), input.(linOp)
		cur := s.st[op.slot]
		if op.kind == "release" {
			switch cur {
			case linPromoting:
				s.st[op.slot] = StateEstablished
				s.count--
				return true, s
			case StateEstablished: // the second step of an idempotent Promote
				return true, s
			}
			return false, s
		}
		if cur == linPromoting { // the slot's lock is held from join to release
			return false, s
		}
		switch op.kind {
		case "reserve":
			got := output.(bool)
			switch {
			case cur == StateTransient:
				return got, s
			case cur == StateEstablished:
				return !got, s
			case s.count < linBudget:
				s.st[op.slot] = StateTransient
				s.count++
				return got, s
			default:
				return !got, s
			}
		case "promote":
			got := output.(int)
			switch cur {
			case StateEstablished:
				return got == outOK, s
			case StateNone:
				return got == outNotTransient, s
			case StateExpired:
				return got == outExpired, s
			}
			if s.est == linMaxEst {
				return got == outFull, s
			}
			s.st[op.slot] = linPromoting // joined; the unit comes back in "release"
			s.est++
			return got == outOK, s
		case "drop":
			if output.(State) != cur {
				return false, s
			}
			switch cur {
			case StateTransient:
				s.count--
			case StateEstablished:
				s.est--
			}
			s.st[op.slot] = StateNone
			return true, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		op := input.(linOp)
		return fmt.Sprintf("%s(%d) -> %v", op.kind, op.slot, output)
	},
}

// TestTransientLinearizable records concurrent histories of TryReserve,
// Promote and Drop on a few slots and checks each against the sequential
// model with porcupine. Many short histories keep the (NP-hard) check fast.
func TestTransientLinearizable(t *testing.T) {
	defer goleak.VerifyNone(t)
	const rounds, clients, opsPerClient = 120, 3, 24
	for round := range rounds {
		est := mustEstablished[int](t, EstablishedConfig{Min: 1, Max: linMaxEst})
		f := newFixture(t, linSlots, TransientConfig[int]{Budget: linBudget, Established: est})
		var clock atomic.Int64 // logical time: every call and return takes a tick
		history := make([][]porcupine.Operation, clients)
		var wg sync.WaitGroup
		start := make(chan struct{}) // release the clients together, for overlap
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rng := randv2.New(randv2.NewPCG(uint64(round), uint64(c)))
				for range opsPerClient {
					op := linOp{kind: [...]string{"reserve", "reserve", "promote", "drop"}[rng.IntN(4)], slot: rng.IntN(linSlots)}
					s := &f.slots[op.slot]
					call := clock.Add(1)
					var out any
					switch op.kind {
					case "reserve":
						out = f.m.TryReserve(s, Location(op.slot), t0)
					case "promote":
						out = promoteOutcome(f.m.Promote(s, Location(op.slot)))
					case "drop":
						out = f.m.Drop(s)
					}
					ret := clock.Add(1)
					history[c] = append(history[c], porcupine.Operation{ClientId: c, Input: op, Call: call, Output: out, Return: ret})
					if op.kind == "promote" && out == outOK {
						// The second linearization point of the same call (see linPromoting).
						history[c] = append(history[c], porcupine.Operation{ClientId: c, Input: linOp{"release", op.slot}, Call: call, Output: true, Return: ret})
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		var all []porcupine.Operation
		for _, h := range history {
			all = append(all, h...)
		}
		res := porcupine.CheckOperationsTimeout(transientModel, all, 10*time.Second)
		if res != porcupine.Ok {
			t.Fatalf("round %d: history is not linearizable:\n%v", round, all)
		}
	}
}

// TestTransientModelRejects proves the checker can fail: histories that break
// the budget, or lose a promotion, are reported Illegal.
func TestTransientModelRejects(t *testing.T) {
	seq := func(ops ...porcupine.Operation) []porcupine.Operation {
		for i := range ops {
			ops[i].Call, ops[i].Return = int64(2*i), int64(2*i+1)
		}
		return ops
	}
	op := func(kind string, slot int, out any) porcupine.Operation {
		return porcupine.Operation{Input: linOp{kind, slot}, Output: out}
	}
	at := func(call, ret int64, o porcupine.Operation) porcupine.Operation {
		o.Call, o.Return = call, ret
		return o
	}
	// Slot 0 established, slots 1 and 2 transient: the set has one place
	// left, the budget none.
	setup := seq(op("reserve", 0, true), op("promote", 0, outOK), op("release", 0, true), op("reserve", 1, true), op("reserve", 2, true))
	// Promote(1) over [10, 20]; meanwhile another goroutine sees the set full
	// (slot 1 joined), then the budget still spent (unit not yet released).
	windowed := func(reserve3 porcupine.Operation) []porcupine.Operation {
		return append(slices.Clone(setup),
			at(10, 20, op("promote", 1, outOK)), at(10, 20, op("release", 1, true)),
			at(11, 12, op("promote", 2, outFull)), reserve3)
	}
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{"legal", seq(op("reserve", 0, true), op("reserve", 1, true), op("reserve", 2, false), op("promote", 0, outOK), op("release", 0, true), op("reserve", 2, true)), true},
		{"full seen before the promoted unit is back", windowed(at(13, 14, op("reserve", 3, false))), true},
		{"promoted unit not back after Promote returned", windowed(at(21, 22, op("reserve", 3, false))), false},
		{"promote without its release", seq(op("reserve", 0, true), op("reserve", 1, true), op("promote", 0, outOK), op("reserve", 2, true)), false},
		{"budget exceeded", seq(op("reserve", 0, true), op("reserve", 1, true), op("reserve", 2, true)), false},
		{"leaked unit", seq(op("reserve", 0, true), op("reserve", 1, true), op("drop", 0, StateTransient), op("reserve", 2, false)), false},
		{"double promote not idempotent", seq(op("reserve", 0, true), op("promote", 0, outOK), op("release", 0, true), op("promote", 0, outNotTransient)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(transientModel, tc.history); got != tc.want {
				t.Fatalf("CheckOperations = %v, want %v", got, tc.want)
			}
		})
	}
}
