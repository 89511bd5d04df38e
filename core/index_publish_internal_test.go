package core

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// keysInShard returns n keys of x whose hash picks shard s.
func keysInShard(x *index, s uint64, n int) []ikey {
	var keys []ikey
	for i := 0; len(keys) < n; i++ {
		k := recKey(i)
		if x.hash(&k)>>(64-indexShardBits) == s {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestIndexLoadDuringPublishes: one shard's array is rebuilt over and over,
// growing from a few slots to a few hundred and shrinking back, while readers
// Load that shard's keys. A round inserts a crowd of keys (each rebuild
// publishes a larger array), deletes them, then inserts and at once deletes
// fresh keys: those land in empty slots until the tombstones force a
// rebuild sized for the few live keys. Each publish changes the array's size
// and first slot, so a Load that probed with the size of one array and the
// first slot of another would index past the smaller one (under -race,
// checkptr throws on the unsafe.Add) or miss a key homed by the other size.
// The stable keys are always found with their record; a churned key is absent
// or found with a record of its own.
func TestIndexLoadDuringPublishes(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const stable, crowd, fresh, rounds = 4, 200, 400, 100
	x := newIndex(0)
	keys := keysInShard(x, 0, stable+crowd+fresh)
	recs := make([]*Peer, len(keys))
	for i, k := range keys {
		recs[i] = newRec(k)
	}
	for i := range stable {
		x.Compute(keys[i], func(*Peer, bool) (*Peer, bool) { return recs[i], false })
	}
	put := func(i int) { x.Compute(keys[i], func(*Peer, bool) (*Peer, bool) { return recs[i], false }) }
	del := func(i int) { x.Compute(keys[i], func(*Peer, bool) (*Peer, bool) { return nil, true }) }
	sh := &x.shards[0]
	deadline := time.Now().Add(2 * time.Second)
	var stop atomic.Bool
	var minN, maxN uint64 = 1 << 63, 0 // sizes the writer published
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop.Store(true)
		for r := 0; r < rounds && time.Now().Before(deadline); r++ {
			for i := stable; i < stable+crowd; i++ {
				put(i)
			}
			maxN = max(maxN, sh.n.Load())
			for i := stable; i < stable+crowd; i++ {
				del(i)
			}
			for i := stable + crowd; i < len(keys); i++ {
				put(i)
				del(i)
				if n := sh.n.Load(); n < maxN/8 {
					minN = min(minN, n)
					break
				}
			}
		}
	})
	errs := make(chan string, 2)
	for g := range 2 {
		wg.Go(func() {
			for i := g; !stop.Load(); i++ {
				j := i % len(keys)
				v, ok := x.Load(keys[j])
				var bad string
				switch {
				case j < stable && (!ok || v != recs[j]):
					bad = "a stable key was not found with its record"
				case ok && keyOfRec(v) != keys[j]:
					bad = "Load returned another key's record"
				}
				if bad != "" {
					errs <- bad
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	// The test is only as good as the publishes it forced: the array must
	// have shrunk as well as grown.
	if maxN < 3*crowd/2 || minN > 16 {
		t.Fatalf("the shard's array ranged over %d to %d slots, want under 16 and over %d", minN, maxN, 3*crowd/2)
	}
}

// TestIndexLoadAcrossPublishes publishes two prebuilt arrays holding the
// same keys, one small and one large, alternately and as fast as a writer
// can, while readers Load (a bounded count, within a second): every publish
// changes the size and first slot Load reads, and every other one shrinks
// the array. A Load that used the size of the large array with the first
// slot of the small one would index past it (under -race, checkptr throws on
// the unsafe.Add: dropping Load's check of seq between reading the pair and
// probing makes it throw); one that mixed them the other way would miss
// keys. Present keys are always found with their record and an absent key
// never is.
func TestIndexLoadAcrossPublishes(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for _, tc := range []struct {
		name         string
		small, large int
	}{
		{"min-to-large", indexMinSlots, 1024},
		{"near-sizes", 9, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const present, loads = 5, 300_000
			x := newIndex(0)
			keys := keysInShard(x, 0, present+1) // the last is never stored
			arrays := [2]*indexArray{newIndexArray(tc.small), newIndexArray(tc.large)}
			recs := make([]*Peer, present)
			for i := range recs {
				recs[i] = newRec(keys[i])
				for _, a := range arrays {
					a.place(x.hash(&keys[i]), &keys[i], recs[i])
				}
			}
			sh := &x.shards[0]
			sh.publish(arrays[0])
			deadline := time.Now().Add(time.Second)
			var stop atomic.Bool // the readers are done
			var wg, readers sync.WaitGroup
			wg.Go(func() {
				sh.mu.Lock()
				defer sh.mu.Unlock()
				for i := 0; !stop.Load(); i++ {
					sh.publish(arrays[1-i%2])
				}
			})
			errs := make(chan string, 2)
			for g := range 2 {
				readers.Go(func() {
					for i := g; i < loads && (i%1024 != 0 || time.Now().Before(deadline)); i++ {
						j := i % len(keys)
						v, ok := x.Load(keys[j])
						if j < present && (!ok || v != recs[j]) || j == present && ok {
							errs <- fmt.Sprintf("Load(key %d) = %v, %v", j, v != nil, ok)
							return
						}
					}
				})
			}
			readers.Wait()
			stop.Store(true)
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatal(e)
			}
		})
	}
}
