package loop

import (
	"context"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/petrel-transport/petrel/batchio"
)

// TestReceiveAllocs measures a steady-state receive: a plain batchio
// sender (0 allocations per WriteBatch) sends 64 datagrams of 1200 B, and
// the run waits until the driver's handler counted them. testing.
// AllocsPerRun counts every allocation of the process, sender, driver
// loops and handler alike. The poller driver must allocate nothing; the
// gnet driver's figure is gnet's own per-read cost (a conn, a sockaddr, a
// *net.UDPAddr and its IP, a bound method value per recvfrom), logged.
func TestReceiveAllocs(t *testing.T) {
	for _, k := range kinds {
		for _, gso := range []bool{true, false} {
			name := k.name + "/gso"
			if !gso {
				name = k.name + "/no-gso"
			}
			t.Run(name, func(t *testing.T) {
				t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) })
				rx := newSink(0, 1)
				d := open(t, k, Config{}, rx)
				uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				tx, err := batchio.New(uc, batchio.Config{DisableGSO: !gso})
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Close()
				buf := make([]byte, 1200)
				msgs := make([]batchio.Message, 64)
				for i := range msgs {
					msgs[i] = batchio.Message{Buffer: encode(buf, 0, 1200), Addr: d.LocalAddr()}
				}
				ctx, cancel := context.WithTimeout(context.Background(), guard)
				defer cancel()
				var sent int64
				var failed error
				round := func() {
					n, err := tx.WriteBatch(msgs)
					sent += int64(n)
					if err == nil {
						err = rx.waitRecords(ctx, rx.notify[0], sent)
					}
					if err != nil && failed == nil {
						failed = err
					}
				}
				for range 20 {
					round() // warm up: first-use allocations of the loops
				}
				before := d.Stats()
				const runs = 200
				allocs := testing.AllocsPerRun(runs, round)
				if failed != nil {
					t.Fatal(failed)
				}
				after := d.Stats()
				wakeups := float64(after.Wakeups-before.Wakeups) / (runs + 1)
				engine := float64(after.EngineReads-before.EngineReads) / (runs + 1)
				t.Logf("%.2f allocs per batch of 64; %.2f wakeups and %.2f event-loop reads per batch", allocs, wakeups, engine)
				if engine > 0 {
					t.Logf("%.2f allocs per gnet read", allocs/engine)
				}
				if k.name == "poller" && allocs != 0 {
					t.Errorf("poller: %.2f allocs per received batch, want 0", allocs)
				}
				if err := rx.err(); err != nil {
					t.Error(err)
				}
			})
		}
	}
}
