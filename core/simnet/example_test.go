package simnet_test

import (
	"fmt"
	"net/netip"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/core/simnet"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// printer prints each datagram and reports on done.
type printer struct{ done chan struct{} }

func (p printer) HandleBatch(_ int, msgs []batchio.Message) {
	for _, m := range msgs {
		fmt.Printf("%v -> %v: %s\n", m.Addr, m.Local, m.Buffer)
	}
	p.done <- struct{}{}
}

// Two endpoints on a perfect network on the real clock. Tests run the same
// inside a synctest bubble with the default Clock and impairments.
func Example() {
	nw, err := simnet.New(simnet.Config{Clock: monotime.Now})
	if err != nil {
		panic(err)
	}
	defer nw.Close()
	p := printer{done: make(chan struct{})}
	a, _ := nw.Listen(netip.MustParseAddrPort("10.0.0.1:4000"), p)
	b, _ := nw.Listen(netip.MustParseAddrPort("10.0.0.2:4000"), p)
	a.WriteBatch([]batchio.Message{{Buffer: []byte("hello"), Addr: b.LocalAddr()}})
	<-p.done
	// Output:
	// 10.0.0.1:4000 -> 10.0.0.2: hello
}
