package netem_test

import (
	"fmt"
	"time"

	"github.com/petrel-transport/petrel/internal/netem"
)

// A link of 1 MB/s with 5 ms of delay: three 1000-byte datagrams offered at
// once leave the bottleneck 1 ms apart, then travel 5 ms.
func ExampleLink() {
	l, err := netem.New(netem.Config{Rate: 1_000_000, Delay: 5 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	var q netem.Queue[int]
	var fates []netem.Fate
	for seq := range 3 {
		fates = l.Decide(fates[:0], 0, 1000)
		for _, f := range fates {
			q.Push(f.At, seq)
		}
	}
	for {
		next, ok := q.Next() // arm a timer for next; here we just jump to it
		if !ok {
			break
		}
		for _, seq := range q.PopDue(next, nil) {
			fmt.Printf("datagram %d arrives at %v\n", seq, time.Duration(next))
		}
	}
	// Output:
	// datagram 0 arrives at 6ms
	// datagram 1 arrives at 7ms
	// datagram 2 arrives at 8ms
}
