package transfer

// udp-blast, the ceiling of BenchmarkTransfer without reliability or
// crypto:
//
//	sender: n bytes of 1200-byte datagrams, batchio.Conn.WriteBatch of 64
//	  at a time (sendmmsg, and UDP GSO: batchio coalesces each run of
//	  equal-size datagrams into one send), as fast as the kernel takes
//	  them, then a 1-byte end marker every millisecond until the receiver
//	  has seen one;
//	receiver: batchio.Conn.ReadBatch (recvmmsg, and UDP GRO: one receive
//	  carries up to 64 KB of datagrams), counting the bytes of 1200-byte
//	  datagrams, until the first marker, which arrives behind every
//	  datagram sent before it (one socket, loopback, no reordering).
//
// Datagrams the receiver's socket had no room for are dropped by the
// kernel and not counted: goodput is bytes received per second.

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/batchio"
	"github.com/petrel-transport/petrel/bench/internal/transports"
	"go.uber.org/goleak"
)

// blastDatagram is the size of every data datagram: petrel's.
const blastDatagram = 1200

// blastPair is a sending and a receiving batchio.Conn on 127.0.0.1.
type blastPair struct {
	tx, rx *batchio.Conn
	to     []batchio.Message // a batch of data datagrams to rx, reused
	marker []batchio.Message // one end marker to rx
	in     []batchio.Message // rx's batch
}

func newBlastPair() (*blastPair, error) {
	open := func() (*batchio.Conn, *net.UDPAddr, error) {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, err
		}
		c, err := batchio.New(u, batchio.Config{})
		if err != nil {
			return nil, nil, errors.Join(err, u.Close())
		}
		return c, u.LocalAddr().(*net.UDPAddr), nil
	}
	tx, _, err := open()
	if err != nil {
		return nil, err
	}
	rx, addr, err := open()
	if err != nil {
		return nil, errors.Join(err, tx.Close())
	}
	p := &blastPair{tx: tx, rx: rx, in: make([]batchio.Message, rx.BatchSize())}
	to := addr.AddrPort()
	p.to = make([]batchio.Message, tx.BatchSize())
	for i := range p.to {
		p.to[i] = batchio.Message{Buffer: payload[:blastDatagram], Addr: to}
	}
	p.marker = []batchio.Message{{Buffer: payload[:1], Addr: to}}
	return p, nil
}

func (p *blastPair) Close() error { return errors.Join(p.tx.Close(), p.rx.Close()) }

// blast sends n bytes (rounded up to whole datagrams) and returns the
// bytes received and the time from the first send to the marker's
// arrival.
func (p *blastPair) blast(n int64) (got int64, elapsed time.Duration, err error) {
	var done atomic.Bool
	type result struct {
		got int64
		at  time.Time
		err error
	}
	rcv := make(chan result, 1)
	go func() {
		var r result
		for {
			k, err := p.rx.ReadBatch(p.in)
			if err != nil {
				r.err = err
				break
			}
			end := false
			for _, m := range p.in[:k] {
				switch len(m.Buffer) {
				case blastDatagram:
					r.got += blastDatagram
				case 1:
					end = true
				}
			}
			if end {
				r.at = time.Now()
				break
			}
		}
		done.Store(true)
		rcv <- r
	}()
	start := time.Now()
	for left := (n + blastDatagram - 1) / blastDatagram; left > 0 && err == nil; {
		var k int
		k, err = p.tx.WriteBatch(p.to[:min(left, int64(len(p.to)))])
		left -= int64(k)
	}
	for t := time.Now(); err == nil && !done.Load(); {
		if time.Since(t) > bound {
			err = fmt.Errorf("no end marker arrived for %v", bound)
			break
		}
		_, err = p.tx.WriteBatch(p.marker)
		time.Sleep(time.Millisecond) // a marker per millisecond: the receiver is still draining
	}
	if err != nil {
		_ = p.rx.Close() // ends the receiver
		<-rcv
		return 0, 0, err
	}
	r := <-rcv
	return r.got, r.at.Sub(start), r.err
}

// benchBlast: b.N blocks blasted, MB/s of bytes received over the time to
// receive them, cpu-s/GiB per GiB received, and delivered-% (the share of
// the bytes sent that arrived).
func benchBlast(b *testing.B) {
	defer goleak.VerifyNone(b, transports.Baseline()...)
	b.ReportAllocs()
	p, err := newBlastPair()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.blast(block); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	stop := transports.StartCPUProfile(b)
	b.ResetTimer()
	cpu0, cpuOK := cpuTime()
	got, elapsed, err := p.blast(int64(b.N) * block)
	cpu1, _ := cpuTime()
	b.StopTimer()
	stop()
	if err != nil {
		b.Fatal(err)
	}
	if got == 0 {
		b.Fatal("no datagram arrived")
	}
	b.ReportMetric(float64(got)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(100*float64(got)/float64(int64(b.N)*block), "delivered-%")
	if cpuOK {
		b.ReportMetric((cpu1-cpu0).Seconds()/(float64(got)/(1<<30)), "cpu-s/GiB")
	}
}
