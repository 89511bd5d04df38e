package core_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core"
	"github.com/petrel-transport/petrel/core/sessiontest"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/puzpuzpuz/xsync/v3"
)

const benchPeers = 100_000

// BenchmarkTableLoad compares a lookup by key in the petrel Table against
// the two usual baselines, in the same binary: a map behind a sync.RWMutex
// and a sync.Map, each holding the same 100,000 peers, looked up with random
// keys from all Ps (b.RunParallel).
func BenchmarkTableLoad(b *testing.B) {
	keys := make([]core.PeerKey, benchPeers)
	tab := core.NewTable(keyN(1<<40), benchPeers)
	rw := struct {
		sync.RWMutex
		m map[core.PeerKey]*core.Peer
	}{m: make(map[core.PeerKey]*core.Peer, benchPeers)}
	var sm sync.Map
	xm := xsync.NewMapOf[core.PeerKey, *core.Peer](xsync.WithPresize(benchPeers))
	for i := range keys {
		keys[i] = keyN(uint64(i))
		p, _ := tab.LoadOrCreate(keys[i], addrN(uint32(i)))
		rw.m[keys[i]] = p
		sm.Store(keys[i], p)
		xm.Store(keys[i], p)
	}
	var seed atomic.Uint64
	run := func(b *testing.B, load func(k *core.PeerKey) *core.Peer) {
		b.ReportAllocs()
		runtime.GC() // no variant pays for the setup's garbage
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seed.Add(1), 3))
			misses := 0
			for pb.Next() {
				if load(&keys[r.IntN(benchPeers)]) == nil {
					misses++
				}
			}
			if misses != 0 {
				b.Errorf("%d misses", misses)
			}
		})
	}
	b.Run("petrel", func(b *testing.B) {
		run(b, func(k *core.PeerKey) *core.Peer {
			p, _ := tab.Load(*k)
			return p
		})
	})
	b.Run("rwmutex", func(b *testing.B) {
		run(b, func(k *core.PeerKey) *core.Peer {
			rw.RLock()
			p := rw.m[*k]
			rw.RUnlock()
			return p
		})
	})
	b.Run("syncmap", func(b *testing.B) {
		run(b, func(k *core.PeerKey) *core.Peer {
			v, _ := sm.Load(*k)
			p, _ := v.(*core.Peer)
			return p
		})
	})
	// xsync is the lock-free map the table was first built on
	// (github.com/puzpuzpuz/xsync/v3 MapOf): every entry is its own
	// allocation, so a lookup takes two cache misses where the table's
	// inline-key index takes one. Kept so the report shows the difference.
	b.Run("xsync", func(b *testing.B) {
		run(b, func(k *core.PeerKey) *core.Peer {
			p, _ := xm.Load(*k)
			return p
		})
	})
	// nolock is not a design anyone could ship (the map is read without
	// synchronisation, which is only sound here because nothing writes
	// during the run): it is the ceiling, the cost of the hash lookup alone
	// in Go's own map, so the report can show how much of rwmutex's cost is
	// the lock at all on this machine.
	b.Run("nolock", func(b *testing.B) {
		run(b, func(k *core.PeerKey) *core.Peer {
			return rw.m[*k]
		})
	})
}

// BenchmarkTouch is the receive path's per-datagram table work: look the
// peer up by source address and record last-seen. 0 allocs/op.
func BenchmarkTouch(b *testing.B) { benchTouch(b, 1) }

// BenchmarkTouchStore is BenchmarkTouch with the clock moving
// core.TouchGranularity per op, so every Touch stores: the worst case, a
// peer heard from less often than once per granularity. (BenchmarkTouch's
// clock moves 1 ns per op, so there a peer is revisited about 50 µs later
// and most touches are the load alone; in real time, at this spread over
// 100,000 peers, they would be this benchmark.)
func BenchmarkTouchStore(b *testing.B) { benchTouch(b, core.TouchGranularity) }

// benchTouch looks up random peers of benchPeers by address from every P and
// touches each, the fake clock moving step per op.
func benchTouch(b *testing.B, step time.Duration) {
	tab := core.NewTable(keyN(1<<40), benchPeers)
	for i := range benchPeers {
		tab.LoadOrCreate(keyN(uint64(i)), addrN(uint32(i)))
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 5))
		now := monotime.Now()
		for pb.Next() {
			p, ok := tab.LoadByAddr(addrN(uint32(r.IntN(benchPeers))))
			if !ok {
				b.Error("miss")
				return
			}
			now = now.Add(step)
			p.Touch(now)
		}
	})
}

// BenchmarkTouchHot is the busy-peer case: every P touches the same 8
// peers (a bulk transfer arriving on several receive loops), with the
// clock moving 1 ns per op. The Peer lines are shared between the cores.
func BenchmarkTouchHot(b *testing.B) {
	const hot = 8
	tab := core.NewTable(keyN(1<<40), hot)
	for i := range hot {
		tab.LoadOrCreate(keyN(uint64(i)), addrN(uint32(i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		now := monotime.Now()
		i := uint32(0)
		for pb.Next() {
			p, ok := tab.LoadByAddr(addrN(i % hot))
			if !ok {
				b.Error("miss")
				return
			}
			i++
			now++
			p.Touch(now)
		}
	})
}

// BenchmarkTableMemory reports the heap bytes per peer of a Table holding
// 1,000,000 peers, each with an address (both maps, map entries and Peer
// records; no sessions). Target: at most 256 B/peer.
func BenchmarkTableMemory(b *testing.B) {
	const n = 1_000_000
	var perPeer float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tab := core.NewTable(keyN(1<<40), 0)
		for i := range n {
			tab.LoadOrCreate(keyN(uint64(i)), addrN(uint32(i)))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tab.Len() != n {
			b.Fatalf("table holds %d peers", tab.Len())
		}
		perPeer = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(tab)
	}
	b.ReportMetric(perPeer, "B/peer")
}

// BenchmarkBroadcast visits the 10,000 live peers of a table (out of 12,000
// records: 2,000 have no session) and "sends" to each, with no lock held
// across the sends. One op is one full broadcast.
func BenchmarkBroadcast(b *testing.B) {
	const live, idle = 10_000, 2_000
	tab := core.NewTable(keyN(1<<40), live+idle)
	for i := range live + idle {
		k := keyN(uint64(i))
		tab.LoadOrCreate(k, addrN(uint32(i)))
		if i < live {
			s := sessiontest.New(uint64(i + 1))
			tab.Swap(k, false, func() core.Session { return s })
		}
	}
	var sent int
	send := func(p *core.Peer, s core.Session) bool {
		p.CountOut(64)
		sent++
		return true
	}
	b.ReportAllocs()
	for b.Loop() {
		sent = 0
		tab.RangeLive(send)
		if sent != live {
			b.Fatalf("visited %d live peers, want %d", sent, live)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/live, "ns/peer")
}

// BenchmarkNodePeerMemory reports the heap bytes per peer of a Node that
// knows 100,000 peers through AddPeer: table and Peer as in
// BenchmarkTableMemory plus each peer's link (counters, retained estimates,
// its two wheel timers and their callbacks). No sessions.
func BenchmarkNodePeerMemory(b *testing.B) {
	const n = 100_000
	var perPeer float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		node, err := core.New(core.Config{Local: keyN(1 << 40), ManualAdvance: true, Clock: newFakeClock(t0)})
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			if _, err := node.AddPeer(keyN(uint64(i)), addrN(uint32(i)), false); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perPeer = float64(after.HeapAlloc-before.HeapAlloc) / n
		node.Close()
	}
	b.ReportMetric(perPeer, "B/peer")
}
