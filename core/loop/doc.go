// Package loop is petrel's I/O driver over real sockets: it binds Loops
// SO_REUSEPORT UDP sockets to one address, reads each on a loop of its
// own with batchio (recvmmsg, UDP GRO) and hands every batch to a Handler,
// and sends batches (sendmmsg, UDP GSO) through the socket a destination
// hashes to. It imports batchio and nothing of core: core adapts a driver
// into its Driver interface.
//
// Two drivers offer the same API: Poller (a goroutine per socket parked in
// Go's network poller) and Gnet (gnet event loops, each socket drained
// with batchio in fd mode). The full comparison is written below once
// measured.
package loop
