package core

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
)

// recKey is the index key of the i-th test record. A record (a Peer) knows
// its own key, so a reader can tell a right answer from a wrong one.
func recKey(i int) ikey {
	var pk PeerKey
	binary.LittleEndian.PutUint64(pk[0:], uint64(i))
	binary.LittleEndian.PutUint64(pk[8:], uint64(i)*7)
	pk[16] = 1
	return wordsOf(&pk)
}

func newRec(k ikey) *Peer {
	var pk PeerKey
	for i, w := range k {
		binary.LittleEndian.PutUint64(pk[8*i:], w)
	}
	return newPeer(pk, netip.AddrPort{})
}

func keyOfRec(p *Peer) ikey { return wordsOf(&p.key) }

// TestIndexModel runs random Compute/Load/Range/Size against a Go map, on an
// index small enough that every path runs many times: growth, shrinking,
// tombstones and their reuse, and probe runs that wrap around the array.
func TestIndexModel(t *testing.T) {
	for _, keys := range []int{3, 40, 700} {
		t.Run("", func(t *testing.T) {
			x := newIndex(0)
			model := map[ikey]*Peer{}
			r := rand.New(rand.NewPCG(uint64(keys), 1))
			for op := range 40_000 {
				k := recKey(r.IntN(keys))
				sh := x.shard(x.hash(&k))
				before, seq := keyWords(sh), sh.seq.Load()
				switch r.IntN(5) {
				case 0, 1: // insert or replace
					v := newRec(k)
					x.Compute(k, func(cur *Peer, loaded bool) (*Peer, bool) {
						if m := model[k]; loaded != (m != nil) || cur != m {
							t.Fatalf("op %d: Compute saw (%p, %v), model has %p", op, cur, loaded, m)
						}
						return v, false
					})
					model[k] = v
				case 2: // delete
					x.Compute(k, func(*Peer, bool) (*Peer, bool) { return nil, true })
					delete(model, k)
				case 3: // keep: store nothing
					x.Compute(k, func(cur *Peer, _ bool) (*Peer, bool) { return nil, false })
				case 4:
					got, ok := x.Load(k)
					if m := model[k]; got != m || ok != (m != nil) {
						t.Fatalf("op %d: Load = (%p, %v), model has %p", op, got, ok, m)
					}
				}
				// The readers' protocol: no slot of the array they may be
				// reading changes its key without the shard's seq moving.
				if after := keyWords(sh); sh.tab.Load() == before.a && !equalWords(before.w, after.w) && sh.seq.Load() == seq {
					t.Fatalf("op %d: a slot's key changed and seq did not move", op)
				}
				if sh.seq.Load()&1 != 0 {
					t.Fatalf("op %d: seq left odd", op)
				}
				checkCounts(t, op, sh)
				if op%997 == 0 {
					checkIndex(t, x, model)
				}
			}
			checkIndex(t, x, model)
		})
	}
}

// checkCounts checks that sh's counts are exact: used (live plus
// tombstones) is what keeps an empty slot in the array to end every probe
// (with none, a probe for an absent key would loop forever), live is Size.
func checkCounts(t *testing.T, at int, sh *indexShard) {
	t.Helper()
	a := sh.tab.Load()
	used, live := 0, 0
	for j := range a.slots {
		if p := a.slots[j].p.Load(); p != nil {
			used++
			if p != tomb {
				live++
			}
		}
	}
	if used != sh.used || int64(live) != sh.live.Load() || used == len(a.slots) {
		t.Fatalf("%d: used %d live %d of %d slots, counted %d and %d", at, sh.used, sh.live.Load(), len(a.slots), used, live)
	}
}

type shardKeys struct {
	a *indexArray
	w []ikey
}

// keyWords snapshots the key words of every slot of sh's array.
func keyWords(sh *indexShard) shardKeys {
	a := sh.tab.Load()
	w := make([]ikey, len(a.slots))
	for i := range a.slots {
		w[i] = a.slots[i].key()
	}
	return shardKeys{a, w}
}

func equalWords(a, b []ikey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkIndex(t *testing.T, x *index, model map[ikey]*Peer) {
	t.Helper()
	if x.Size() != len(model) {
		t.Fatalf("Size = %d, model has %d", x.Size(), len(model))
	}
	seen := map[*Peer]bool{}
	x.Range(func(v *Peer) bool {
		if seen[v] || model[keyOfRec(v)] != v {
			t.Fatalf("Range visited %p twice or not in the model", v)
		}
		seen[v] = true
		return true
	})
	if len(seen) != len(model) {
		t.Fatalf("Range visited %d, model has %d", len(seen), len(model))
	}
	for i := range x.shards {
		sh := &x.shards[i]
		a := sh.tab.Load()
		if 5*sh.used > 4*len(a.slots) {
			t.Fatalf("shard %d: %d of %d slots used", i, sh.used, len(a.slots))
		}
		checkCounts(t, i, sh)
	}
}

// TestIndexConcurrentReaders: readers look up keys that are present for the
// whole test, and keys being inserted and deleted, while writers churn every
// shard (tombstone reuse, growth, rebuilds). A present key is always found
// with its one record; a churned key is found absent or with a record of
// that key, never another key's record. Range visits every present key
// exactly once.
func TestIndexConcurrentReaders(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const stable, churn = 256, 2048
	x := newIndex(0)
	present := make([]*Peer, stable)
	for i := range present {
		v := newRec(recKey(i))
		present[i] = v
		x.Compute(recKey(i), func(*Peer, bool) (*Peer, bool) { return v, false })
	}
	deadline := time.Now().Add(2 * time.Second)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for i := 0; i < 300_000 && !stop.Load(); i++ {
				k := recKey(stable + r.IntN(churn))
				if r.IntN(2) == 0 {
					v := newRec(k)
					x.Compute(k, func(*Peer, bool) (*Peer, bool) { return v, false })
				} else {
					x.Compute(k, func(*Peer, bool) (*Peer, bool) { return nil, true })
				}
			}
		})
	}
	errs := make(chan string, 4)
	report := func(s string) {
		select {
		case errs <- s:
		default:
		}
		stop.Store(true)
	}
	for g := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for i := 0; i < 1_000_000 && !stop.Load(); i++ {
				if i%4096 == 0 && time.Now().After(deadline) {
					return
				}
				j := r.IntN(stable + churn)
				k := recKey(j)
				v, ok := x.Load(k)
				switch {
				case j < stable && (!ok || v != present[j]):
					report("a present key was not found with its record")
				case ok && keyOfRec(v) != k:
					report("Load returned another key's record")
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 200 && !stop.Load() && time.Now().Before(deadline); i++ {
			n := 0
			x.Range(func(v *Peer) bool {
				if keyOfRec(v)[0] < stable {
					n++
				}
				return true
			})
			if n != stable {
				report("Range did not visit every present key exactly once")
			}
		}
	})
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestIndexHashSeeded: two indexes hash the same key differently, so probe
// runs cannot be aimed at without the seed.
func TestIndexHashSeeded(t *testing.T) {
	a, b := newIndex(0), newIndex(0)
	same := 0
	for i := range 64 {
		k := recKey(i)
		if a.hash(&k) == b.hash(&k) {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("%d of 64 keys hash equal under two seeds", same)
	}
}

// TestIndexLoadAllocs: Load and a replacing Compute allocate nothing.
func TestIndexLoadAllocs(t *testing.T) {
	x := newIndex(1000)
	k := recKey(1)
	v := newRec(k)
	keep := func(*Peer, bool) (*Peer, bool) { return v, false }
	x.Compute(k, keep)
	if n := testing.AllocsPerRun(1000, func() {
		if p, ok := x.Load(k); !ok || p != v {
			t.Fatal("lost the key")
		}
		x.Compute(k, keep)
	}); n != 0 {
		t.Fatalf("%v allocs per Load+Compute", n)
	}
}

// TestIndexSlotAlignment: every key word of a slot is accessed with 64-bit
// atomics, which on 386, arm and 32-bit mips panic ("unaligned 64-bit atomic
// operation") unless the word is 8-byte aligned. Only the typed atomics
// guarantee that on every GOARCH; run this with GOARCH=386 to see it.
func TestIndexSlotAlignment(t *testing.T) {
	a := newIndexArray(indexMinSlots)
	for i := range a.slots {
		for j := range a.slots[i].k {
			if addr := uintptr(unsafe.Pointer(&a.slots[i].k[j])); addr%8 != 0 {
				t.Fatalf("slot %d key word %d at %#x: not 8-byte aligned", i, j, addr)
			}
		}
	}
}

// TestIndexRangeDuringRebuilds: Range's callback grows every shard (each
// visit of a record present from the start inserts keys, so arrays are
// rebuilt and published under the walk) and deletes half of what it added. A record present for the whole Range
// is visited exactly once, and no visited record is a tombstone or a key's
// stale record.
func TestIndexRangeDuringRebuilds(t *testing.T) {
	const stable = 300
	x := newIndex(0)
	for i := range stable {
		k := recKey(i)
		v := newRec(k)
		x.Compute(k, func(*Peer, bool) (*Peer, bool) { return v, false })
	}
	seen := map[*Peer]int{}
	next := stable
	x.Range(func(v *Peer) bool {
		if v == tomb {
			t.Fatal("Range visited a tombstone")
		}
		seen[v]++
		if keyOfRec(v)[0] >= stable {
			return true // a record added during the walk: add nothing more
		}
		for range 40 {
			k := recKey(next)
			w := newRec(k)
			x.Compute(k, func(*Peer, bool) (*Peer, bool) { return w, false })
			next++
		}
		for j := next - 40; j < next; j += 2 {
			x.Compute(recKey(j), func(*Peer, bool) (*Peer, bool) { return nil, true })
		}
		return true
	})
	for i := range stable {
		v, ok := x.Load(recKey(i))
		if !ok {
			t.Fatalf("key %d lost", i)
		}
		if seen[v] != 1 {
			t.Fatalf("record of key %d visited %d times, want 1", i, seen[v])
		}
	}
	if x.Size() != stable+(next-stable)/2 {
		t.Fatalf("Size = %d, want %d", x.Size(), stable+(next-stable)/2)
	}
}
