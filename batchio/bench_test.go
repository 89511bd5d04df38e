package batchio

// BenchmarkLoopback measures datagrams per second received over loopback,
// 1200-byte datagrams, one sender (the benchmark goroutine) and one receiver
// goroutine, for the stdlib baseline (net.UDPConn, one datagram per call)
// and batchio with recvmmsg/sendmmsg only, with GSO, and with GSO and GRO.
// mmsg-sched is mmsg with every sendmmsg made through the scheduler
// (syscall.Syscall, as net and x/net make theirs) instead of sized to
// rawSendBudget and made raw (sendcost.go): mmsg/mmsg-sched is what that
// choice is worth.
//
// Method: b.N is the number of datagrams to send. The sender is
// flow-limited: at most benchWindow datagrams may be outstanding (sent but
// not yet counted by the receiver, which publishes its count in an atomic
// and pokes a channel). The window is far below the socket buffer, so the
// figure is the pipeline's rate, not how fast a sender can overrun a
// receiver. If datagrams are lost the window would never reopen: after
// benchStall without progress the sender writes the outstanding datagrams
// off as lost and goes on. When the sender is done, the receiver gets
// benchStall to drain. "loss" is (sent-received)/sent, "pkts/s" is received
// datagrams per second of the whole run, "Gb/s" the payload rate,
// "cpu-ns/pkt" the CPU time the whole process spent (user and system, both
// goroutines, the runtime) per datagram received. The batchio variants also
// report "pkts/sendcall" and "pkts/recvcall", datagrams per sendmmsg and
// per recvmmsg from Conn.Stats (stdlib makes one call per datagram by
// construction): they show how far a run amortises the per-call cost,
// which on loopback is small next to the per-datagram cost of the kernel's
// send path (the sender's CPU runs the whole delivery).

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

const (
	benchDatagram = 1200 // petrel's default datagram size
	benchWindow   = 2048 // datagrams in flight: ~5 MB of skb truesize, below every receive buffer here
	benchStall    = 200 * time.Millisecond
)

// endpoint is one side of a benchmark: send sends up to n datagrams and
// says how many left; recv receives some and says how many; deadline
// unblocks recv.
type endpoint struct {
	send     func(n int) (int, error)
	recv     func() (int, error)
	deadline func(time.Time) error
	// calls, when set, returns the system calls that moved data so far:
	// the sender's and the receiver's.
	calls func() (send, recv uint64)
	// conn is the batchio Conn behind the endpoint; nil for stdlib.
	conn *Conn
}

func BenchmarkLoopback(b *testing.B) {
	b.Run("stdlib", func(b *testing.B) { benchLoopback(b, stdlibPair) })
	b.Run("mmsg", func(b *testing.B) {
		benchLoopback(b, batchioPair(Config{DisableGSO: true, DisableGRO: true}, false, false))
	})
	b.Run("mmsg-sched", func(b *testing.B) {
		benchLoopback(b, func(b *testing.B) (tx, rx endpoint) {
			tx, rx = newBatchioPair(b, Config{DisableGSO: true, DisableGRO: true}, false, false)
			setRawBudget(b, tx.conn, 0)
			return tx, rx
		})
	})
	b.Run("gso", func(b *testing.B) { benchLoopback(b, batchioPair(Config{DisableGRO: true}, true, false)) })
	b.Run("gsogro", func(b *testing.B) { benchLoopback(b, batchioPair(Config{}, true, true)) })
}

func stdlibPair(b *testing.B) (tx, rx endpoint) {
	rxc := listenBench(b)
	txc := listenBench(b)
	for _, c := range []*net.UDPConn{rxc, txc} {
		// The same request batchio makes; without CAP_NET_ADMIN's *FORCE
		// the kernel caps it at net.core.rmem_max/wmem_max.
		_ = c.SetReadBuffer(DefaultSocketBuffer)
		_ = c.SetWriteBuffer(DefaultSocketBuffer)
	}
	dst := rxc.LocalAddr().(*net.UDPAddr).AddrPort()
	out := make([]byte, benchDatagram)
	in := make([]byte, maxUDPPayload)
	tx.send = func(n int) (int, error) {
		for i := range n {
			if _, err := txc.WriteToUDPAddrPort(out, dst); err != nil {
				return i, err
			}
		}
		return n, nil
	}
	rx.recv = func() (int, error) {
		if _, _, err := rxc.ReadFromUDPAddrPort(in); err != nil {
			return 0, err
		}
		return 1, nil
	}
	rx.deadline = rxc.SetReadDeadline
	return tx, rx
}

func batchioPair(cfg Config, needGSO, needGRO bool) func(*testing.B) (tx, rx endpoint) {
	return func(b *testing.B) (tx, rx endpoint) { return newBatchioPair(b, cfg, needGSO, needGRO) }
}

func newBatchioPair(b *testing.B, cfg Config, needGSO, needGRO bool) (tx, rx endpoint) {
	rxConn, err := New(listenBench(b), cfg)
	if err != nil {
		b.Fatal(err)
	}
	txConn, err := New(listenBench(b), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rxConn.Close(); txConn.Close() })
	if caps := txConn.Capabilities(); needGSO && !caps.GSO {
		b.Skip("kernel without UDP GSO")
	}
	if caps := rxConn.Capabilities(); needGRO && !caps.GRO {
		b.Skip("kernel without UDP GRO")
	}
	dst := rxConn.uc.LocalAddr().(*net.UDPAddr).AddrPort()
	// Every message points at one payload buffer, as stdlib sends one
	// buffer again and again: with a buffer per message the sender would
	// read 8*DefaultBatchSize*1200 bytes (600 KB) per round and pay cache
	// misses copying them in (perf: _copy_from_iter 3x stdlib's per
	// datagram) that the baseline never pays.
	out := make([]Message, 8*DefaultBatchSize)
	payload := make([]byte, benchDatagram)
	for i := range out {
		out[i] = Message{Buffer: payload, Addr: dst}
	}
	in := make([]Message, rxConn.BatchSize())
	tx.send = func(n int) (int, error) { return txConn.WriteBatch(out[:min(n, len(out))]) }
	rx.recv = func() (int, error) { return rxConn.ReadBatch(in) }
	rx.deadline = rxConn.uc.SetReadDeadline
	rx.calls = func() (send, recv uint64) { return txConn.Stats().SendCalls, rxConn.Stats().RecvCalls }
	tx.conn, rx.conn = txConn, rxConn
	return tx, rx
}

func listenBench(b *testing.B) *net.UDPConn {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func benchLoopback(b *testing.B, pair func(*testing.B) (tx, rx endpoint)) {
	tx, rx := pair(b)
	var received atomic.Int64
	wake := make(chan struct{}, 1)
	exited := make(chan struct{})
	b.ReportAllocs()
	b.SetBytes(benchDatagram)
	cpu0 := processCPU(b)
	b.ResetTimer()
	go func() {
		defer close(exited)
		for {
			n, err := rx.recv()
			if err != nil {
				return // deadline set by the sender: the run is over
			}
			received.Add(int64(n))
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()

	stall := time.NewTimer(benchStall)
	stall.Stop()
	// waitProgress parks until the receiver counts more or benchStall
	// passes; it reports whether progress came.
	waitProgress := func() bool {
		stall.Reset(benchStall)
		defer stall.Stop()
		select {
		case <-wake:
			return true
		case <-stall.C:
			return false
		}
	}
	var sent, writtenOff int64
	total := int64(b.N)
	for sent < total {
		room := benchWindow - (sent - received.Load() - writtenOff)
		if room <= 0 {
			if !waitProgress() {
				writtenOff = sent - received.Load()
			}
			continue
		}
		n, err := tx.send(int(min(room, total-sent)))
		sent += int64(n)
		if err != nil {
			b.Fatalf("send: %v", err)
		}
	}
	for received.Load() < sent && waitProgress() {
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	_ = rx.deadline(time.Unix(1, 0))
	<-exited

	got := received.Load()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(got)/secs, "pkts/s")
	b.ReportMetric(float64(got)*benchDatagram*8/secs/1e9, "Gb/s")
	b.ReportMetric(float64(sent-got)/float64(sent), "loss")
	if cpu > 0 { // 0: the platform has no getrusage
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(got, 1)), "cpu-ns/pkt")
	}
	if rx.calls != nil {
		sc, rc := rx.calls()
		b.ReportMetric(float64(sent)/float64(max(sc, 1)), "pkts/sendcall")
		b.ReportMetric(float64(got)/float64(max(rc, 1)), "pkts/recvcall")
	}
}
