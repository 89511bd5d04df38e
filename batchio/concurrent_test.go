package batchio

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestConcurrentReadWrite runs, on each of two Conns, a reader goroutine
// and two writer goroutines at once (writers sending to the other Conn), and
// checks under -race that every datagram arrives once and intact. The
// volume fits the socket buffers, so nothing may be lost.
func TestConcurrentReadWrite(t *testing.T) {
	const perWriter = 600
	x, ax := listen(t, "udp4", "127.0.0.1:0", Config{})
	y, ay := listen(t, "udp4", "127.0.0.1:0", Config{})
	sizeOf := func(seq uint32) int { return 64 + int(seq%4)*300 }

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	write := func(c *Conn, dst netip.AddrPort, base uint32) {
		defer wg.Done()
		msgs := make([]Message, c.BatchSize())
		for seq := base; seq < base+perWriter; {
			k := 0
			for ; k < len(msgs) && seq < base+perWriter; k, seq = k+1, seq+1 {
				msgs[k] = Message{Buffer: payload(make([]byte, sizeOf(seq)), seq), Addr: dst}
			}
			if n, err := c.WriteBatch(msgs[:k]); n != k || err != nil {
				errs <- err
				return
			}
		}
	}
	results := make([]map[uint32]int, 2)
	read := func(i int, c *Conn) {
		defer wg.Done()
		if err := c.uc.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
			errs <- err
			return
		}
		seen := make(map[uint32]int)
		msgs := make([]Message, c.BatchSize())
		for got := 0; got < 2*perWriter; {
			n, err := c.ReadBatch(msgs)
			if err != nil {
				errs <- err
				return
			}
			for _, m := range msgs[:n] {
				seq, err := checkPayload(m.Buffer, sizeOf)
				if err != nil {
					errs <- err
					return
				}
				seen[seq]++
			}
			got += n
		}
		results[i] = seen
	}
	wg.Add(6)
	go read(0, x)
	go read(1, y)
	go write(x, ay, 0)
	go write(x, ay, perWriter)
	go write(y, ax, 2*perWriter)
	go write(y, ax, 3*perWriter)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, base := range []uint32{2 * perWriter, 0} {
		for seq := base; seq < base+2*perWriter; seq++ {
			if results[i][seq] != 1 {
				t.Fatalf("conn %d got datagram %d %d times", i, seq, results[i][seq])
			}
		}
	}
}

// TestUnreachableFamily checks that a destination the socket's family
// cannot reach stops the batch there with an error, after sending the
// datagrams before it.
func TestUnreachableFamily(t *testing.T) {
	rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{})
	msgs := []Message{
		{Buffer: payload(make([]byte, 100), 0), Addr: dst},
		{Buffer: payload(make([]byte, 100), 1), Addr: dst},
		{Buffer: payload(make([]byte, 100), 2), Addr: netip.MustParseAddrPort("[::1]:9")},
		{Buffer: payload(make([]byte, 100), 3), Addr: dst},
	}
	n, err := tx.WriteBatch(msgs)
	if n != 2 || err == nil {
		t.Fatalf("WriteBatch = %d, %v; want 2 and an error", n, err)
	}
	// The portable fallback reports the stdlib's own error.
	var aerr *net.AddrError
	if runtime.GOOS == "linux" && !errors.As(err, &aerr) {
		t.Fatalf("error %T %v, want *net.AddrError", err, err)
	}
	seen, _, _ := receiveAll(t, rx, rx.uc, 2, func(uint32) int { return 100 })
	if seen[0] != 1 || seen[1] != 1 {
		t.Fatalf("received %v", seen)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"batch too large", Config{BatchSize: MaxBatchSize + 1}, false},
		{"negative batch", Config{BatchSize: -1}, false},
		{"datagram too large", Config{MaxDatagramSize: maxUDPPayload + 1}, false},
		{"kernel buffers", Config{RecvBufferSize: -1, SendBufferSize: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer uc.Close()
			c, err := New(uc, tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}
