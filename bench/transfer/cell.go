package transfer

import (
	"time"

	"github.com/petrel-transport/petrel/internal/netem"
)

// cell is one path of BenchmarkLossMatrix: random loss, a round-trip time
// split evenly over the two directions, and optionally a bottleneck rate
// with netem's default bounded queue (the bandwidth-delay product of the
// round trip), the same in both directions.
type cell struct {
	name string
	loss float64       // per datagram, each direction, independent (Bernoulli)
	rtt  time.Duration // propagation delay there and back
	rate int64         // bytes/s of the bottleneck, each direction; 0: none
	// perOp is the bytes one op moves: about one second at the rate a
	// loss-based controller (petrel's, quic-go's) reaches on this path,
	// so a round of the whole matrix stays within a few minutes (see
	// BenchmarkLossMatrix).
	perOp int64
}

// direction is one direction of c's path, its random draws seeded by
// seed (the relay seeds each direction, and each flow, apart).
func (c *cell) direction(seed uint64) netem.Config {
	return netem.Config{Loss: c.loss, Delay: c.rtt / 2, Rate: c.rate, Seed: seed}
}

// cells are BenchmarkLossMatrix's paths in order; the names are fixed
// (bench/report looks the lines up by name). The bytes per op were sized
// from a run here (2026-12-03, one op each): petrel and quic-go moved
// 2-27 MB/s at 0.1% and 20 ms, 0.9-1.4 at 1% and 20 ms, 0.2-0.5 at 5%
// and 20 ms, 2-2.7 at 0.1% and 100 ms, 0.2-0.8 at 1% and 100 ms, 0.1-0.3
// at 5% and 100 ms, 9-12 behind the 100 Mbit/s bottleneck; kcp-go, with
// no congestion control, is as fast or faster on the lossy cells. That is
// the Mathis bound's shape, MSS x 1.22 / (R x sqrt(p)) for a loss-based
// controller (Mathis et al., 1997: 0.7 MB/s for 1200-byte datagrams at
// 1% and 20 ms), with the 5% cells also losing whole windows to timeouts.
var cells = []*cell{
	{name: "loss0.1%-rtt20ms", loss: 0.001, rtt: 20 * time.Millisecond, perOp: 8 << 20},
	{name: "loss1%-rtt20ms", loss: 0.01, rtt: 20 * time.Millisecond, perOp: impairedBlock},
	{name: "loss5%-rtt20ms", loss: 0.05, rtt: 20 * time.Millisecond, perOp: 256 << 10},
	{name: "loss0.1%-rtt100ms", loss: 0.001, rtt: 100 * time.Millisecond, perOp: 2 << 20},
	{name: "loss1%-rtt100ms", loss: 0.01, rtt: 100 * time.Millisecond, perOp: 256 << 10},
	{name: "loss5%-rtt100ms", loss: 0.05, rtt: 100 * time.Millisecond, perOp: 128 << 10},
	{name: "100mbit-rtt20ms", rtt: 20 * time.Millisecond, rate: 100e6 / 8, perOp: 8 << 20},
}

// defaultCell is the impaired path of a benchmark that names none
// (benchmark with impaired set): the 1%, 20 ms cell, the WAN of the demo's
// lossy phase (cmd/petrel).
var defaultCell = cells[1]
