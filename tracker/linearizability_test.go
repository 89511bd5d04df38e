package tracker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability check records concurrent operations on the tracker
// and checks with porcupine that every packet's history is explained by a
// sequential model of one packet. Operations over many packets are
// linearizable per packet (package doc), so the history is partitioned by
// packet number and every stream carries one packet, making DropStream an
// operation on one packet too.

type linKind uint8

const (
	linSend linKind = iota
	linAck
	linDrop
	linAbandon
	linRefresh
	linQuery
)

type linInput struct {
	kind linKind
	pn   uint64
	gen  Generation
}

// linOutput: bytes released, or the boolean result.
type linOutput struct {
	n  uint64
	ok bool
}

// linState is the sequential model of one packet.
type linState struct {
	sent, inFlight bool
	gen            Generation
}

func linSize(pn uint64) uint64 { return pn%97 + 1 }

var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byPN := map[uint64][]porcupine.Operation{}
		for _, op := range h {
			pn := op.Input.(linInput).pn
			byPN[pn] = append(byPN[pn], op)
		}
		out := make([][]porcupine.Operation, 0, len(byPN))
		for _, ops := range byPN {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(st, in, out any) (bool, any) {
		s, i, o := st.(linState), in.(linInput), out.(linOutput)
		switch i.kind {
		case linSend:
			if s.sent || !o.ok {
				return false, s
			}
			return true, linState{sent: true, inFlight: true}
		case linAck, linDrop, linAbandon:
			if s.inFlight {
				s.inFlight = false
				return o.n == linSize(i.pn), s
			}
			return o.n == 0, s
		case linRefresh:
			if s.inFlight && s.gen == i.gen {
				s.gen++
				return o.ok, s
			}
			return !o.ok, s
		case linQuery:
			return o.ok == s.inFlight, s
		}
		return false, s
	},
	DescribeOperation: func(in, out any) string {
		return fmt.Sprintf("%+v -> %+v", in, out)
	},
}

func TestLinearizable(t *testing.T) {
	const (
		clients  = 4
		rounds   = 400
		perRound = 6 // packets per round
		opsEach  = 12
	)
	r := newRig(t, Config{})
	var (
		clock   atomic.Int64
		mu      sync.Mutex
		history []porcupine.Operation
	)
	record := func(client int, in linInput, do func() linOutput) {
		call := clock.Add(1)
		out := do()
		ret := clock.Add(1)
		mu.Lock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
		mu.Unlock()
	}
	exec := func(in linInput) linOutput {
		switch in.kind {
		case linSend:
			err := sendOn(r.fl, r.t, in.pn, StreamID(in.pn+1000), uint32(linSize(in.pn)), ms)
			return linOutput{ok: err == nil}
		case linAck:
			res, _ := r.t.OnAck([]AckRange{rng(in.pn, in.pn)}, 0, 2*ms) // ErrAckUnsent acks nothing
			return linOutput{n: res.AckedBytes}
		case linDrop:
			return linOutput{n: r.t.DropStream(StreamID(in.pn + 1000))}
		case linAbandon:
			return linOutput{n: r.t.Abandon(in.pn)}
		case linRefresh:
			return linOutput{ok: r.t.Refresh(in.pn, in.gen, 3*ms)}
		default:
			return linOutput{ok: r.t.InFlight(in.pn)}
		}
	}
	for round := range rounds {
		base := uint64(round * perRound)
		var wg sync.WaitGroup
		start := make(chan struct{}) // start the clients together: more overlap
		for c := range clients {
			wg.Go(func() {
				<-start
				rnd := rand.New(rand.NewPCG(uint64(round), uint64(c)))
				// Client c sends the packets with pn%clients == c, in
				// between its other operations.
				var mine []uint64
				for pn := base; pn < base+perRound; pn++ {
					if int(pn%clients) == c {
						mine = append(mine, pn)
					}
				}
				for i := 0; i < opsEach || len(mine) > 0; i++ {
					if len(mine) > 0 && (i >= opsEach || rnd.IntN(3) == 0) {
						in := linInput{kind: linSend, pn: mine[0]}
						mine = mine[1:]
						record(c, in, func() linOutput { return exec(in) })
						continue
					}
					in := linInput{kind: linKind(1 + rnd.IntN(5)), pn: base + rnd.Uint64N(perRound), gen: Generation(rnd.IntN(3))}
					record(c, in, func() linOutput { return exec(in) })
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if res := porcupine.CheckOperationsTimeout(linModel, history, 30*time.Second); res != porcupine.Ok {
		reportIllegal(t, history)
		t.Fatalf("history of %d operations is not linearizable (%v)", len(history), res)
	}
	// And the books balance at quiescence.
	var inFlight uint64
	for pn := range uint64(rounds * perRound) {
		if r.t.InFlight(pn) {
			inFlight += linSize(pn)
		}
	}
	if r.fl.Load() != inFlight {
		t.Fatalf("flight %d, in flight %d", r.fl.Load(), inFlight)
	}
	t.Logf("%d operations linearizable", len(history))
}

// reportIllegal logs the first packet whose history is not linearizable.
func reportIllegal(t *testing.T, history []porcupine.Operation) {
	for _, part := range linModel.Partition(history) {
		if porcupine.CheckOperations(linModel, part) {
			continue
		}
		slices.SortFunc(part, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
		for _, op := range part {
			t.Logf("client %d [%d, %d] %s", op.ClientId, op.Call, op.Return, linModel.DescribeOperation(op.Input, op.Output))
		}
		return
	}
}

// TestLinearizabilityCheckerCatchesBugs makes sure the model can fail: a
// history where a packet is released twice is rejected.
func TestLinearizabilityCheckerCatchesBugs(t *testing.T) {
	in := func(k linKind) linInput { return linInput{kind: k, pn: 5} }
	bad := []porcupine.Operation{
		{ClientId: 0, Input: in(linSend), Output: linOutput{ok: true}, Call: 1, Return: 2},
		{ClientId: 0, Input: in(linAck), Output: linOutput{n: linSize(5)}, Call: 3, Return: 6},
		{ClientId: 1, Input: in(linDrop), Output: linOutput{n: linSize(5)}, Call: 4, Return: 5},
	}
	if porcupine.CheckOperations(linModel, bad) {
		t.Fatal("double release accepted by the model")
	}
	resurrect := []porcupine.Operation{
		{ClientId: 0, Input: in(linSend), Output: linOutput{ok: true}, Call: 1, Return: 2},
		{ClientId: 0, Input: in(linDrop), Output: linOutput{n: linSize(5)}, Call: 3, Return: 4},
		{ClientId: 1, Input: linInput{kind: linRefresh, pn: 5}, Output: linOutput{ok: true}, Call: 5, Return: 6},
	}
	if porcupine.CheckOperations(linModel, resurrect) {
		t.Fatal("refresh after drop accepted by the model")
	}
}
