package ring

import (
	"errors"
	"fmt"
	randv2 "math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.uber.org/goleak"
)

// A sequential model of TryReserve, Promote and Drop for porcupine: the
// states of linSlots slots, the budget in use and the established count.
const (
	linSlots, linBudget, linMaxEst = 4, 2, 2
)

type linState struct {
	st         [linSlots]State
	count, est int
}

type linOp struct {
	kind string // "reserve", "promote", "drop"
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
			s.st[op.slot] = StateEstablished
			s.count--
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
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{"legal", seq(op("reserve", 0, true), op("reserve", 1, true), op("reserve", 2, false), op("promote", 0, outOK), op("reserve", 2, true)), true},
		{"budget exceeded", seq(op("reserve", 0, true), op("reserve", 1, true), op("reserve", 2, true)), false},
		{"leaked unit", seq(op("reserve", 0, true), op("reserve", 1, true), op("drop", 0, StateTransient), op("reserve", 2, false)), false},
		{"double promote not idempotent", seq(op("reserve", 0, true), op("promote", 0, outOK), op("promote", 0, outNotTransient)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(transientModel, tc.history); got != tc.want {
				t.Fatalf("CheckOperations = %v, want %v", got, tc.want)
			}
		})
	}
}
