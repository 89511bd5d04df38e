package core

import (
	"net/netip"
	"sync"
	"testing"
	"unsafe"

	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"go.uber.org/goleak"
)

func TestAddrCellRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0:0", "192.0.2.1:65535", "[::]:1", "[2001:db8::ff00:42:8329]:443", "[::ffff:10.0.0.1]:9"} {
		a := normAddr(netip.MustParseAddrPort(s))
		var c addrCell
		c.store(a)
		if got := c.load(); got != a {
			t.Errorf("%s: load = %v, want %v", s, got, a)
		}
		if !c.clearIf(a) || c.load().IsValid() {
			t.Errorf("%s: clearIf did not clear", s)
		}
	}
}

// TestAddrCellNoTornReads writes two addresses whose words all differ while
// readers check they only ever see one of the two: a cell without the
// sequence check would return mixes of both.
func TestAddrCellNoTornReads(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	a := netip.MustParseAddrPort("[2001:db8::1]:1111")
	b := netip.MustParseAddrPort("[fe80::dead:beef:1:2]:2222")
	var c addrCell
	c.store(a)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				c.store(b)
			} else {
				c.store(a)
			}
		}
	}()
	for range 20000 {
		if got := c.load(); got != a && got != b {
			close(stop)
			wg.Wait()
			t.Fatalf("torn read: %v", got)
		}
	}
	close(stop)
	wg.Wait()
}

// TestPeerLayout pins the record's size: the 256 B/peer budget at a million
// peers depends on it (see BenchmarkTableMemory). The sizes are those of
// 64-bit targets; 32-bit ones have smaller pointers and are not pinned.
func TestPeerLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("layout pinned for 64-bit targets")
	}
	if got := unsafe.Sizeof(Peer{}); got != 96 {
		t.Fatalf("sizeof(Peer) = %d, want 96", got)
	}
	if got := unsafe.Sizeof(indexSlot{}); got != 40 {
		t.Fatalf("sizeof(indexSlot) = %d, want 40", got)
	}
	if got := unsafe.Sizeof(indexShard{}); got != 64 {
		t.Fatalf("sizeof(indexShard) = %d, want 64 (one cache line)", got)
	}
}

// FuzzAddrCell checks the seqlock cell and the index key against netip
// itself: what is stored is what is loaded (normalised), and two normalised
// addresses share an index key only if they are equal.
func FuzzAddrCell(f *testing.F) {
	fuzzseed.Add(f, []byte{192, 0, 2, 1}, uint16(443), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, uint16(443))
	fuzzseed.Add(f, []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(1), []byte{10, 0, 0, 1}, uint16(1))
	f.Fuzz(func(t *testing.T, ipA []byte, portA uint16, ipB []byte, portB uint16) {
		a, okA := netip.AddrFromSlice(ipA)
		b, okB := netip.AddrFromSlice(ipB)
		if !okA || !okB {
			return
		}
		na := normAddr(netip.AddrPortFrom(a, portA))
		nb := normAddr(netip.AddrPortFrom(b, portB))
		var c addrCell
		c.store(na)
		if got := c.load(); got != na {
			t.Fatalf("stored %v, loaded %v", na, got)
		}
		if (keyOf(na) == keyOf(nb)) != (na == nb) {
			t.Fatalf("index keys of %v and %v: equal=%v", na, nb, keyOf(na) == keyOf(nb))
		}
	})
}
