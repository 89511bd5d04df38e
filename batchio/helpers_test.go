package batchio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// listen opens a Conn on a loopback (or wildcard, for dual-stack) address
// of the given network and returns it with the address peers send to.
func listen(t testing.TB, network, addr string, cfg Config) (*Conn, netip.AddrPort) {
	t.Helper()
	uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	c, err := New(uc, cfg)
	if err != nil {
		uc.Close()
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	local := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	return c, local
}

// payload fills b with a datagram that names its sequence number and whose
// every byte depends on it, so any corruption or mix-up is detected.
func payload(b []byte, seq uint32) []byte {
	if len(b) >= 4 {
		binary.BigEndian.PutUint32(b, seq)
		for i := 4; i < len(b); i++ {
			b[i] = byte(seq*31 + uint32(i)*7)
		}
	}
	return b
}

// checkPayload returns the sequence number of an intact datagram of the
// expected size, or an error.
func checkPayload(b []byte, sizeOf func(seq uint32) int) (uint32, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("datagram of %d bytes has no header", len(b))
	}
	seq := binary.BigEndian.Uint32(b)
	if want := sizeOf(seq); want != len(b) {
		return seq, fmt.Errorf("datagram %d: %d bytes, want %d", seq, len(b), want)
	}
	for i := 4; i < len(b); i++ {
		if b[i] != byte(seq*31+uint32(i)*7) {
			return seq, fmt.Errorf("datagram %d corrupt at byte %d", seq, i)
		}
	}
	return seq, nil
}

// receiveAll reads from c until want datagrams arrived or the deadline
// passes, checking each, and returns how often each sequence number came,
// from where and to which local address.
func receiveAll(t testing.TB, c *Conn, uc interface{ SetReadDeadline(time.Time) error }, want int, sizeOf func(uint32) int) (seen map[uint32]int, from map[netip.AddrPort]int, to map[netip.Addr]int) {
	t.Helper()
	if err := uc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	seen = make(map[uint32]int)
	from = make(map[netip.AddrPort]int)
	to = make(map[netip.Addr]int)
	msgs := make([]Message, c.BatchSize())
	got := 0
	for got < want {
		n, err := c.ReadBatch(msgs)
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d datagrams: %v", got, want, err)
		}
		for _, m := range msgs[:n] {
			if m.SegmentSize < 0 || len(m.Buffer) > m.SegmentSize && m.SegmentSize != 0 {
				t.Fatalf("datagram of %d bytes cut with segment size %d", len(m.Buffer), m.SegmentSize)
			}
			seq, err := checkPayload(m.Buffer, sizeOf)
			if err != nil {
				t.Fatal(err)
			}
			seen[seq]++
			from[m.Addr]++
			to[m.Local]++
		}
		got += n
	}
	return seen, from, to
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
