package ring_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
	"github.com/petrel-transport/petrel/ring"
)

// peer stands for the owner's one entry per peer (core's Peer): the
// transient state is a ring.Slot embedded in it.
type peer struct {
	key       string
	loc       ring.Location
	transient ring.Slot[string]
}

// Example shows the life of a peer: admitted as transient when it first
// shows up, promoted after its handshake, and found by location.
func Example() {
	start := monotime.Time(time.Second)
	w, _ := wheel.New(start, wheel.Config{})
	m, _ := ring.NewTransientManager(ring.TransientConfig[string]{Wheel: w, Budget: 2})

	admit := func(key, addr string, now monotime.Time) *peer {
		loc, _ := ring.LocationFromAddr(netip.MustParseAddr(addr))
		p := &peer{key: key, loc: loc}
		m.InitSlot(&p.transient, key) // once, before the entry is shared
		if !m.TryReserve(&p.transient, loc, now) {
			return nil // over budget: refuse the peer
		}
		return p
	}
	a := admit("a", "192.0.2.1", start)
	b := admit("b", "198.51.100.1", start)
	fmt.Println("admitted:", a != nil, b != nil, admit("c", "203.0.113.1", start) != nil)

	fmt.Println("promote a:", m.Promote(&a.transient, a.loc))
	w.Advance(start.Add(m.TTL())) // b was never promoted: its TTL runs out
	fmt.Println("b:", b.transient.State(), "transients:", m.Count())

	closest := m.Established().Closest(b.loc, 8, nil)
	fmt.Println("closest to b:", closest[0].Key)
	// Output:
	// admitted: true true false
	// promote a: <nil>
	// b: expired transients: 0
	// closest to b: a
}
