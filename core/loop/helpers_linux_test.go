package loop

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/petrel-transport/petrel/batchio"
)

func dupGnetFDs(t *testing.T, d driver) []int {
	t.Helper()
	g := d.(*Gnet)
	var fds []int
	for i := range g.socks {
		fd, err := unix.Dup(g.socks[i].Load().fd)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	return fds
}

func gnetSockStats(d driver) []batchio.Stats {
	g := d.(*Gnet)
	var st []batchio.Stats
	for i := range g.socks {
		st = append(st, g.socks[i].Load().conn.Stats())
	}
	return st
}
