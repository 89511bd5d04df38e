package core

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.uber.org/goleak"
)

// The sequential model of the index, one key at a time (linearizability is
// local, so each key's history is checked on its own): the state is the id
// of the key's record, 0 when absent.
type (
	ixOp struct {
		kind byte // 'p' put (insert or replace), 'd' delete, 'l' load
		key  int
		id   uint64 // the record a put stores
	}
)

var indexModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, o := range h {
			k := o.Input.(ixOp).key
			by[k] = append(by[k], o)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return uint64(0) },
	Step: func(st, in, out any) (bool, any) {
		s, op := st.(uint64), in.(ixOp)
		switch op.kind {
		case 'p':
			return true, op.id
		case 'd':
			return true, uint64(0)
		default:
			return out.(uint64) == s, s
		}
	},
	DescribeOperation: func(in, out any) string { return fmt.Sprintf("%+v -> %v", in, out) },
}

// sameRunKeys returns n keys of x that share one shard and one probe run:
// each one's home is slot 0 of that shard's array at every size the test's
// few keys can give it (8 or 9 slots), so every insert, delete and
// tombstone reuse of any of them rewrites a slot the others' probes cross.
func sameRunKeys(x *index, n int) []ikey {
	var keys []ikey
	for i := 0; len(keys) < n; i++ {
		k := recKey(i)
		h := x.hash(&k)
		if h>>(64-indexShardBits) == 0 && (&indexArray{n: 9}).home(h) == 0 {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestIndexLinearizable records concurrent histories of Compute (insert,
// replace, delete) and Load on keys crowded into one probe run, and checks
// them against the sequential model with porcupine. A reader that accepted
// a slot while its key was being rewritten would return another key's
// record (an id that key never had); one that missed a present key, or kept
// a deleted one, would fail the model. The checked keys alone never fill
// their array to a rebuild, so an unrecorded client inserts and at once
// deletes other keys of the same shard: their tombstones force a rebuild
// every few inserts, and Loads overlap publishes of a new array.
func TestIndexLinearizable(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const keysN, writers, readers, opsPerClient, rounds, fillersN = 4, 2, 2, 400, 400, 64
	deadline := time.Now().Add(4 * time.Second)
	publishes := 0 // arrays published around the filler client's inserts
	for round := 0; round < rounds && (round == 0 || time.Now().Before(deadline)); round++ {
		x := newIndex(0)
		keys := sameRunKeys(x, keysN)
		fillers := keysInShard(x, 0, keysN+fillersN)
		fillers = slices.DeleteFunc(fillers, func(k ikey) bool { return slices.Contains(keys, k) })
		fillerRecs := make([]*Peer, len(fillers))
		for i, k := range fillers {
			fillerRecs[i] = newRec(k)
		}
		// Records are made up front, so the run allocates only histories;
		// ids identify them (a record knows its key, not its id).
		recs := make([][]*Peer, keysN)
		ids := map[*Peer]uint64{}
		for k := range recs {
			for j := range opsPerClient * writers {
				p := newRec(keys[k])
				recs[k] = append(recs[k], p)
				ids[p] = uint64(k*opsPerClient*writers + j + 1)
			}
		}
		var clock atomic.Int64
		var next [keysN]atomic.Int64
		hist := make([][]porcupine.Operation, writers+readers)
		var done atomic.Bool // the recorded clients are done
		var filler sync.WaitGroup
		filler.Go(func() {
			for i := 0; !done.Load(); i++ {
				j := i % len(fillers)
				a := x.shards[0].tab.Load()
				x.Compute(fillers[j], func(*Peer, bool) (*Peer, bool) { return fillerRecs[j], false })
				if x.shards[0].tab.Load() != a {
					publishes++
				}
				x.Compute(fillers[j], func(*Peer, bool) (*Peer, bool) { return nil, true })
			}
		})
		var wg sync.WaitGroup
		for c := range writers + readers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(round), uint64(c)))
				for range opsPerClient {
					k := r.IntN(keysN)
					op := porcupine.Operation{ClientId: c}
					switch {
					case c >= writers:
						op.Call = clock.Add(1)
						p, ok := x.Load(keys[k])
						op.Return = clock.Add(1)
						if ok != (p != nil) || ok && keyOfRec(p) != keys[k] {
							t.Errorf("Load = (%p, %v), not a record of its key", p, ok)
						}
						op.Input, op.Output = ixOp{kind: 'l', key: k}, ids[p]
					case r.IntN(2) == 0:
						v := recs[k][next[k].Add(1)-1]
						op.Input = ixOp{kind: 'p', key: k, id: ids[v]}
						op.Call = clock.Add(1)
						x.Compute(keys[k], func(*Peer, bool) (*Peer, bool) { return v, false })
						op.Return = clock.Add(1)
					default:
						op.Input = ixOp{kind: 'd', key: k}
						op.Call = clock.Add(1)
						x.Compute(keys[k], func(*Peer, bool) (*Peer, bool) { return nil, true })
						op.Return = clock.Add(1)
					}
					hist[c] = append(hist[c], op)
				}
			})
		}
		wg.Wait()
		done.Store(true)
		filler.Wait()
		var history []porcupine.Operation
		for _, h := range hist {
			history = append(history, h...)
		}
		if res := porcupine.CheckOperationsTimeout(indexModel, history, 10*time.Second); res != porcupine.Ok {
			t.Fatalf("round %d: history not linearizable (%s)", round, res)
		}
	}
	if publishes < 100 {
		t.Fatalf("only %d rebuilds ran under the checked operations", publishes)
	}
}

// TestIndexModelRejectsStaleLoad proves the checker above can fail: a Load
// that returns a record deleted before it began, or one the key never had,
// is not linearizable.
func TestIndexModelRejectsStaleLoad(t *testing.T) {
	ok := []porcupine.Operation{
		{ClientId: 0, Input: ixOp{kind: 'p', key: 0, id: 1}, Call: 0, Return: 1},
		{ClientId: 0, Input: ixOp{kind: 'd', key: 0}, Call: 2, Return: 3},
		{ClientId: 1, Input: ixOp{kind: 'l', key: 0}, Call: 1, Output: uint64(1), Return: 4},
	}
	if !porcupine.CheckOperations(indexModel, ok) {
		t.Fatal("the model rejected a load overlapping the delete")
	}
	for _, bad := range []porcupine.Operation{
		{ClientId: 1, Input: ixOp{kind: 'l', key: 0}, Call: 4, Output: uint64(1), Return: 5}, // after the delete
		{ClientId: 1, Input: ixOp{kind: 'l', key: 0}, Call: 1, Output: uint64(7), Return: 4}, // another record
	} {
		h := append(ok[:2:2], bad)
		if porcupine.CheckOperations(indexModel, h) {
			t.Fatalf("the model accepted %+v", bad)
		}
	}
}
