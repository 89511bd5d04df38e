package messages

import "github.com/petrel-transport/petrel/core"

// names are the transports in benchmark order: the sub-benchmark names
// bench/report's claims look up.
var names = []string{"petrel-gnet", "petrel-poller", "quic-go", "kcp-go", "tcp"}

// byName holds every transport of names, by name.
var byName = map[string]transport{
	"petrel-gnet":   petrelTransport{core.DriverGnet},
	"petrel-poller": petrelTransport{core.DriverPoller},
	"quic-go":       quicTransport{},
	"kcp-go":        kcpTransport{},
	"tcp":           tcpTransport{},
}

// sizes are the message sizes measured, by sub-benchmark name.
var sizes = []struct {
	name string
	size int
}{{"64B", 64}, {"1KB", 1 << 10}, {"64KB", 64 << 10}}

// window is the pipeline depth: messages in flight at once, so a run
// measures throughput, not one round trip at a time.
const window = 32
