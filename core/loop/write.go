package loop

// The send path shared by both drivers:
//
//	WriteBatch(msgs)
//	-> each datagram's socket is chosen by a hash of its destination, so
//	   all of one peer's datagrams leave through one socket, in order
//	-> consecutive datagrams for the same socket form a run; runs are sent
//	   in order, each with one batchio WriteBatch (sendmmsg, GSO runs of
//	   equal-size datagrams to one destination)
//	-> the count returned is always a prefix of msgs: a run that stops
//	   short ends the call.
//
// Interleaved destinations that hash to different sockets cost one
// sendmmsg per run; a batch for one peer (what a session flushes) is one
// run. Splitting a batch into per-socket sub-batches would save those
// calls but needs scratch space and loses the prefix count.

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"math/bits"
	"net/netip"

	"github.com/petrel-transport/petrel/batchio"
)

// socketWriter sends a run of datagrams through socket i.
type socketWriter interface {
	writeSocket(i int, msgs []batchio.Message) (int, error)
}

// addrHash chooses a socket for a destination. It is immutable.
type addrHash struct {
	seed uint64
	n    uint64
}

func newAddrHash(n int) addrHash {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return addrHash{seed: binary.LittleEndian.Uint64(b[:]), n: uint64(n)}
}

// socket returns the index of a's socket in [0, n). It allocates nothing.
func (h addrHash) socket(a netip.AddrPort) int {
	if h.n == 1 {
		return 0
	}
	ip := a.Addr().As16() // IPv4 as v4-mapped: one address, one hash
	x := h.seed ^ binary.LittleEndian.Uint64(ip[:8])
	x = bits.RotateLeft64(x*0x9e3779b97f4a7c15, 31) ^ binary.LittleEndian.Uint64(ip[8:])
	x = bits.RotateLeft64(x*0x9e3779b97f4a7c15, 31) ^ uint64(a.Port())
	x *= 0x9e3779b97f4a7c15
	x ^= x >> 32
	return int(x % h.n)
}

// writeRuns sends msgs through w in runs of consecutive datagrams for the
// same socket and returns how many left, a prefix of msgs.
func writeRuns[W socketWriter](w W, h addrHash, msgs []batchio.Message) (int, error) {
	sent := 0
	for sent < len(msgs) {
		i := h.socket(msgs[sent].Addr)
		end := sent + 1
		for end < len(msgs) && h.socket(msgs[end].Addr) == i {
			end++
		}
		n, err := w.writeSocket(i, msgs[sent:end])
		sent += n
		if err != nil {
			return sent, err
		}
		if sent < end {
			return sent, io.ErrNoProgress // batchio pairs a short count with an error
		}
	}
	return sent, nil
}
