package congestion_test

import (
	"context"
	"fmt"
	"time"

	"github.com/petrel-transport/petrel/congestion"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// Example shows one connection's congestion state driven by an event loop
// with a fake clock: a writer reserves window, packets leave at the pacer's
// times, an ACK feeds the RTT estimator and the controller.
func Example() {
	cc, err := congestion.NewCubic(congestion.CubicConfig{})
	if err != nil {
		panic(err)
	}
	pacer, err := congestion.NewPacer(cc, congestion.PacerConfig{})
	if err != nil {
		panic(err)
	}
	rtt := congestion.NewRTT(0)
	var flight congestion.FlightSize

	now := monotime.Time(time.Second)
	start := now
	// The writer: ten packets fill the initial window of 12000 bytes.
	for range 10 {
		if err := flight.Reserve(context.Background(), 1200, cc, time.Time{}); err != nil {
			panic(err)
		}
		now = pacer.NextSendTime(now, 1200)
		cc.OnPacketSent(now, 1200, flight.Load()-1200)
		pacer.OnPacketSent(now, 1200)
	}
	fmt.Println("in flight:", flight.Load(), "window:", cc.Window())
	fmt.Println("room for one more:", flight.TryReserve(1200, cc.Window()))

	// The event loop: an ACK of all ten packets, 50 ms later.
	now = now.Add(50 * time.Millisecond)
	rtt.Update(now.Sub(start), 0)
	rtt.ResetBackoff()
	cc.OnAck(now, start, 12000, flight.Load(), &rtt)
	flight.Release(12000)
	flight.Notify()
	fmt.Println("after the ACK: window", cc.Window(), "rtt", rtt.SmoothedRTT(), "PTO", rtt.PTO())
	fmt.Println("pacing rate (bytes/s):", cc.PacingRate())
	// Output:
	// in flight: 12000 window: 12000
	// room for one more: false
	// after the ACK: window 24000 rtt 50ms PTO 175ms
	// pacing rate (bytes/s): 600000
}
