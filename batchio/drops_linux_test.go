package batchio

import (
	"testing"
	"time"
)

// TestKernelDrops overflows a tiny receive buffer and checks that
// Stats.KernelDrops accounts exactly for every datagram that did not arrive.
// The kernel reports the drop count (SO_RXQ_OVFL) on datagrams queued after
// the drops, so a marker datagram is sent once the queue has been drained.
func TestKernelDrops(t *testing.T) {
	rx, dst := listen(t, "udp4", "127.0.0.1:0", Config{RecvBufferSize: 1, DisableGRO: true})
	tx, _ := listen(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
	if !rx.Capabilities().RxqOverflow {
		t.Skip("kernel without SO_RXQ_OVFL")
	}
	const burst, marker = 64, 1 << 20
	sizeOf := func(uint32) int { return 1200 }
	msgs := make([]Message, burst)
	for i := range msgs {
		msgs[i] = Message{Buffer: payload(make([]byte, 1200), uint32(i)), Addr: dst}
	}
	if n, err := tx.WriteBatch(msgs); n != burst || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	in := make([]Message, rx.BatchSize())
	if err := rx.uc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	received := 0
	count := func(ms []Message) { received += len(ms) }
	if _, err := rx.Drain(in, count); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.WriteBatch([]Message{{Buffer: payload(make([]byte, 1200), marker), Addr: dst}}); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		n, err := rx.ReadBatch(in)
		if err != nil {
			t.Fatalf("waiting for the marker: %v", err)
		}
		for _, m := range in[:n] {
			seq, err := checkPayload(m.Buffer, sizeOf)
			if err != nil {
				t.Fatal(err)
			}
			if seq == marker {
				done = true
			} else {
				received++
			}
		}
	}
	drops := rx.Stats().KernelDrops
	if received == burst {
		t.Skipf("a %d-byte receive buffer held the whole burst", rx.Capabilities().RecvBuffer)
	}
	if drops != uint64(burst-received) {
		t.Fatalf("KernelDrops = %d, but %d of %d datagrams arrived", drops, received, burst)
	}
}
