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

	"github.com/petrel-transport/petrel/internal/monotime"
)

// The linearizability check records concurrent operations on the tracker
// and checks with porcupine that every data item's history is explained by
// a sequential model. A data item is one packet (number base+d) and its
// possible retransmission (number retxBase+d), alone on its stream, so
// DropStream is an operation on one item. Operations over many packets are
// linearizable per packet (package doc): DueForResend is recorded as one
// "lost" operation per packet it handed out.

type linKind uint8

const (
	linSend linKind = iota
	linAckOld
	linAckNew
	linDrop
	linAbandon
	linRetransmit
	linQuery
	linLose    // DueForResend handed out the original packet
	linLoseNew // DueForResend handed out the retransmission
	linKinds
)

type linInput struct {
	kind linKind
	d    uint64 // data item
}

// linOutput: bytes released, a late ACK (spurious loss or late probe), or
// the boolean result.
type linOutput struct {
	n    uint64
	late bool
	ok   bool
}

// linPkt is the model's view of one packet.
type linPkt uint8

const (
	pktNone linPkt = iota
	pktInFlight
	pktLost
	pktRetransmitted
	pktGone // acked, dropped or abandoned
)

// linState is the sequential model of one data item.
type linState struct {
	old, new linPkt
	lateSeen bool // the retransmitted original's late ACK was reported
}

const retxBase = 1 << 20

func linSize(pn uint64) uint64 { return pn%97 + 1 }

// release moves p out of flight (if it is in flight) to gone and returns
// what that releases.
func release(p *linPkt, size uint64) uint64 {
	switch *p {
	case pktInFlight:
		*p = pktGone
		return size
	case pktLost:
		*p = pktGone
	}
	return 0
}

var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byItem := map[uint64][]porcupine.Operation{}
		for _, op := range h {
			d := op.Input.(linInput).d
			byItem[d] = append(byItem[d], op)
		}
		out := make([][]porcupine.Operation, 0, len(byItem))
		for _, ops := range byItem {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(st, in, out any) (bool, any) {
		s, i, o := st.(linState), in.(linInput), out.(linOutput)
		oldSize, newSize := linSize(i.d), linSize(retxBase+i.d)
		switch i.kind {
		case linSend:
			if s.old != pktNone || !o.ok {
				return false, s
			}
			s.old = pktInFlight
			return true, s
		case linAckOld:
			switch s.old {
			case pktInFlight:
				s.old = pktGone
				return o.n == oldSize && !o.late, s
			case pktLost:
				s.old = pktGone
				return o.n == 0 && o.late, s
			case pktRetransmitted:
				// The first ACK after the retransmission reports the
				// spurious loss if the original's chunk is still held (it
				// may be freed by then: best effort), later ones never.
				ok := o.n == 0 && (!o.late || !s.lateSeen)
				s.lateSeen = true
				return ok, s
			}
			return o.n == 0 && !o.late, s
		case linAckNew:
			switch s.new {
			case pktInFlight:
				s.new = pktGone
				return o.n == newSize && !o.late, s
			case pktLost:
				s.new = pktGone
				return o.n == 0 && o.late, s
			}
			return o.n == 0 && !o.late, s
		case linDrop:
			n := release(&s.old, oldSize) + release(&s.new, newSize)
			return o.n == n, s
		case linAbandon:
			return o.n == release(&s.old, oldSize), s
		case linRetransmit:
			if s.old == pktLost {
				s.old, s.new = pktRetransmitted, pktInFlight
				return o.ok, s
			}
			return !o.ok, s
		case linLose:
			if s.old != pktInFlight {
				return false, s
			}
			s.old = pktLost
			return o.n == oldSize, s
		case linLoseNew:
			if s.new != pktInFlight {
				return false, s
			}
			s.new = pktLost
			return o.n == newSize, s
		case linQuery:
			return o.ok == (s.old == pktInFlight), s
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
		rounds   = 300
		perRound = 6 // data items per round
		opsEach  = 14
	)
	r := newRig(t, Config{})
	var (
		clock   atomic.Int64
		now     atomic.Int64 // the tracker's fake time
		mu      sync.Mutex
		history []porcupine.Operation
		retxMu  [64]sync.Mutex // by data item
	)
	now.Store(int64(ms))
	add := func(client int, in linInput, out linOutput, call, ret int64) {
		mu.Lock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
		mu.Unlock()
	}
	exec := func(in linInput) linOutput {
		pn, at := in.d, monotime.Time(now.Load())
		switch in.kind {
		case linSend:
			err := sendOn(r.fl, r.t, pn, StreamID(pn+1000), uint32(linSize(pn)), at)
			return linOutput{ok: err == nil}
		case linAckOld, linAckNew:
			if in.kind == linAckNew {
				pn += retxBase
			}
			res, _ := r.t.OnAck([]AckRange{rng(pn, pn)}, 0, at) // ErrAckUnsent acks nothing
			return linOutput{n: res.AckedBytes, late: res.Spurious+res.LateProbes > 0}
		case linDrop:
			return linOutput{n: r.t.DropStream(StreamID(pn + 1000))}
		case linAbandon:
			return linOutput{n: r.t.Abandon(pn)}
		case linRetransmit:
			// The engine gives every packet its own number: one resend path
			// per lost packet, never two sends of one number at once.
			retxMu[pn%uint64(len(retxMu))].Lock()
			err := r.retransmit(pn, retxBase+pn, uint32(linSize(retxBase+pn)), at)
			retxMu[pn%uint64(len(retxMu))].Unlock()
			return linOutput{ok: err == nil}
		default:
			return linOutput{ok: r.t.InFlight(pn)}
		}
	}
	var dsts [clients][]Resend
	for round := range rounds {
		base := uint64(round * perRound)
		var wg sync.WaitGroup
		start := make(chan struct{}) // start the clients together: more overlap
		for c := range clients {
			wg.Go(func() {
				<-start
				rnd := rand.New(rand.NewPCG(uint64(round), uint64(c)))
				// Client c sends the items with d%clients == c, in between
				// its other operations.
				var mine []uint64
				for d := base; d < base+perRound; d++ {
					if int(d%clients) == c {
						mine = append(mine, d)
					}
				}
				for i := 0; i < opsEach || len(mine) > 0; i++ {
					if len(mine) > 0 && (i >= opsEach || rnd.IntN(3) == 0) {
						in := linInput{kind: linSend, d: mine[0]}
						mine = mine[1:]
						call := clock.Add(1)
						out := exec(in)
						add(c, in, out, call, clock.Add(1))
						continue
					}
					kind := linKind(1 + rnd.IntN(int(linQuery)))
					if kind == linQuery && rnd.IntN(2) == 0 {
						// Loss detection instead, some time later: each
						// packet it hands out is one operation.
						call := clock.Add(1)
						var res LossResult
						dsts[c], res = r.t.DueForResend(dsts[c][:0], monotime.Time(now.Add(int64(4*ms))), rtt10)
						ret := clock.Add(1)
						_ = res
						for _, l := range dsts[c] {
							in := linInput{kind: linLose, d: l.PN}
							if l.PN >= retxBase {
								in = linInput{kind: linLoseNew, d: l.PN - retxBase}
							}
							add(c, in, linOutput{n: uint64(l.Size)}, call, ret)
						}
						continue
					}
					in := linInput{kind: kind, d: base + rnd.Uint64N(perRound)}
					call := clock.Add(1)
					out := exec(in)
					add(c, in, out, call, clock.Add(1))
				}
			})
		}
		close(start)
		wg.Wait()
		// Resolve what is left of this round's retransmissions, so the
		// next rounds' acks run ahead of no stale packet (untimed, not
		// recorded: the round's histories are complete).
		for d := base; d < base+perRound; d++ {
			r.t.Abandon(d)
			r.t.Abandon(retxBase + d)
		}
	}
	if res := porcupine.CheckOperationsTimeout(linModel, history, 30*time.Second); res != porcupine.Ok {
		reportIllegal(t, history)
		t.Fatalf("history of %d operations is not linearizable (%v)", len(history), res)
	}
	// And the books balance at quiescence: everything was resolved.
	if r.fl.Load() != 0 || r.t.Stats().InFlightBytes != 0 || r.t.Stats().LostPending != 0 {
		t.Fatalf("flight %d, %+v", r.fl.Load(), r.t.Stats())
	}
	r.checkBooks(t)
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
// history where a packet is released twice, or where a dropped packet is
// retransmitted, is rejected.
func TestLinearizabilityCheckerCatchesBugs(t *testing.T) {
	in := func(k linKind) linInput { return linInput{kind: k, d: 5} }
	bad := []porcupine.Operation{
		{ClientId: 0, Input: in(linSend), Output: linOutput{ok: true}, Call: 1, Return: 2},
		{ClientId: 0, Input: in(linAckOld), Output: linOutput{n: linSize(5)}, Call: 3, Return: 6},
		{ClientId: 1, Input: in(linDrop), Output: linOutput{n: linSize(5)}, Call: 4, Return: 5},
	}
	if porcupine.CheckOperations(linModel, bad) {
		t.Fatal("double release accepted by the model")
	}
	resurrect := []porcupine.Operation{
		{ClientId: 0, Input: in(linSend), Output: linOutput{ok: true}, Call: 1, Return: 2},
		{ClientId: 0, Input: in(linLose), Output: linOutput{n: linSize(5)}, Call: 3, Return: 4},
		{ClientId: 0, Input: in(linDrop), Output: linOutput{}, Call: 5, Return: 6},
		{ClientId: 1, Input: in(linRetransmit), Output: linOutput{ok: true}, Call: 7, Return: 8},
	}
	if porcupine.CheckOperations(linModel, resurrect) {
		t.Fatal("retransmit after drop accepted by the model")
	}
	lostTwice := []porcupine.Operation{
		{ClientId: 0, Input: in(linSend), Output: linOutput{ok: true}, Call: 1, Return: 2},
		{ClientId: 0, Input: in(linLose), Output: linOutput{n: linSize(5)}, Call: 3, Return: 4},
		{ClientId: 1, Input: in(linAckOld), Output: linOutput{n: linSize(5)}, Call: 5, Return: 6},
	}
	if porcupine.CheckOperations(linModel, lostTwice) {
		t.Fatal("an ACK releasing a lost packet's bytes again accepted by the model")
	}
}
