package session_test

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-transport/petrel/internal/netem"
)

// TestCallbacksRunOutsideLocks: OnConfirmed and OnRemoteChange run after
// the receive path released the session's locks (as Config documents), so
// a callback may call the session's own methods. Before the fix they were
// deferred inside handleLocked after "defer s.mu.Unlock()", so they ran
// first, under mu and rxMu, and a callback calling Remote or Stats
// deadlocked.
func TestCallbacksRunOutsideLocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		moved := netip.MustParseAddrPort("192.0.2.7:61000")
		var p *pair
		var confirmed, changed atomic.Int32
		var seen atomic.Value
		imp := netem.Config{Delay: 5 * time.Millisecond}
		pc := pairConfig{ab: imp, ba: imp, fromA: moved}
		pc.cfgB.Responder = true
		pc.cfgB.OnConfirmed = func() {
			_ = p.b.Stats() // takes mu
			confirmed.Add(1)
		}
		pc.cfgB.OnRemoteChange = func(addr netip.AddrPort) {
			seen.Store(p.b.Remote()) // takes mu
			changed.Add(1)
		}
		p = newPair(t, pc)
		defer p.stop()
		exchange(t, p, 20, 2000)
		if confirmed.Load() != 1 || changed.Load() != 1 {
			t.Fatalf("OnConfirmed ran %d times, OnRemoteChange %d; want 1 and 1", confirmed.Load(), changed.Load())
		}
		if got := seen.Load(); got != moved {
			t.Errorf("Remote inside OnRemoteChange: %v, want %v", got, moved)
		}
	})
}
