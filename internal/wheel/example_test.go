package wheel_test

import (
	"fmt"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// peer owns its timers: one per purpose, embedded, re-armed in place.
type peer struct {
	w         *wheel.Wheel
	keepalive wheel.Timer
	idle      wheel.Timer
	start     monotime.Time
}

func newPeer(w *wheel.Wheel, now monotime.Time) *peer {
	p := &peer{w: w, start: now}
	// The callbacks are bound once; arming allocates nothing.
	p.keepalive.Init(w, p.onKeepalive)
	p.idle.Init(w, p.onIdle)
	w.Reset(&p.keepalive, now.Add(15*time.Millisecond))
	w.Reset(&p.idle, now.Add(40*time.Millisecond))
	return p
}

// onKeepalive is periodic: it re-arms its own timer.
func (p *peer) onKeepalive(now monotime.Time) {
	fmt.Printf("keepalive at %v\n", now.Sub(p.start))
	p.w.Reset(&p.keepalive, now.Add(15*time.Millisecond))
}

// onIdle closes the peer: it stops the other timer.
func (p *peer) onIdle(now monotime.Time) {
	stopped := p.w.Cancel(&p.keepalive)
	fmt.Printf("idle timeout at %v, keepalive stopped: %v\n", now.Sub(p.start), stopped)
}

// A node drives the wheel from its event loop's tick; here a fake clock
// does, one 1 ms tick at a time.
func Example() {
	start := monotime.Time(1_000_000)
	w, err := wheel.New(start, wheel.Config{Tick: time.Millisecond})
	if err != nil {
		panic(err)
	}
	p := newPeer(w, start)
	for now := start; now <= start.Add(100*time.Millisecond); now = now.Add(time.Millisecond) {
		w.Advance(now)
	}
	fmt.Println("pending:", p.keepalive.Pending(), p.idle.Pending(), w.Len())
	// Output:
	// keepalive at 15ms
	// keepalive at 30ms
	// idle timeout at 40ms, keepalive stopped: true
	// pending: false false 0
}
