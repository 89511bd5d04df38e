package transports

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// KCP settings of every benchmark, kcp-go's "fast" profile as kcptun's
// fast3 mode and kcp-go's own README set it, with encryption on so the
// work per byte compares with petrel's and quic-go's.
const (
	// kcpNoDelay, kcpInterval, kcpResend and kcpNoCongestion are
	// SetNoDelay's arguments: no-delay mode (RTO floor 30 ms, not 100),
	// a 10 ms internal flush interval, fast retransmit after 2 duplicate
	// ACKs, and no congestion window (KCP's "nc": only the send and
	// receive windows bound the flight).
	kcpNoDelay, kcpInterval, kcpResend, kcpNoCongestion = 1, 10, 2, 1
	// kcpWindow is the send and receive window in segments, kcptun's
	// common setting for bulk transfer (KCP's default is 32, kcp.go
	// IKCP_WND_SND): 1024 segments of kcpMTU are 1.2 MB, 61 MB/s at a 20 ms
	// round trip. A window of 4096 (4.7 MB, petrel's and the benchmarks'
	// quic-go's initial 4 MiB) collapsed on loopback here: with no
	// congestion control (kcpNoCongestion) a full window overruns the
	// receiver's socket when the receiver lags, and the 30 ms RTO floor
	// resends it (7 MB/s against 36-87 MB/s with 1024 on the loaded
	// 2-core machine, 2026-12-03).
	kcpWindow = 1024
	// kcpMTU is the largest datagram KCP sends, UDP payload, headers and
	// the crypt header included: petrel's 1200-byte datagrams, so every
	// transport moves datagrams of the same size (KCP's default is 1400).
	kcpMTU = 1200
	// kcpSocketBuffer is SO_RCVBUF and SO_SNDBUF of every KCP socket,
	// batchio's default for petrel's sockets (batchio.DefaultSocketBuffer).
	kcpSocketBuffer = 8 << 20
)

// kcpKey is the pre-shared AES-128 key of every KCP endpoint (KCP has no
// handshake: both ends are given the key). Any 16 bytes will do.
var kcpKey = []byte("petrel-bench-kcp")

// KCPFEC is kcp-go's forward error correction: Reed-Solomon, Parity
// shards per Data shards; both ends of a session must use the same.
type KCPFEC struct{ Data, Parity int }

var (
	// NoFEC turns FEC off: the clean loopback benchmarks, where it only
	// costs (43 against 25 cpu-s/GiB, and no faster, in BenchmarkTransfer
	// here).
	NoFEC = KCPFEC{}
	// LossFEC is kcptun's default, 10 data and 3 parity shards: the lossy
	// paths of BenchmarkLossMatrix, where it measured faster (7-14 against
	// 2-6 MB/s at 1% and 20 ms, 2.4-4 against 0.7-1 MB/s at 1% and
	// 100 ms, two runs each, 2026-12-03).
	LossFEC = KCPFEC{Data: 10, Parity: 3}
)

// kcpBlock returns the packet cipher of every KCP endpoint: AES-128 (kcp-go
// encrypts each datagram with AES in CFB mode behind a random nonce and a
// CRC32, crypt.go; it authenticates nothing, so it does less work per byte
// than an AEAD).
func kcpBlock() (kcp.BlockCrypt, error) { return kcp.NewAESBlockCrypt(kcpKey) }

// TuneKCP applies the benchmarks' KCP settings to s; both ends call it.
func TuneKCP(s *kcp.UDPSession) {
	s.SetNoDelay(kcpNoDelay, kcpInterval, kcpResend, kcpNoCongestion)
	s.SetWindowSize(kcpWindow, kcpWindow)
	s.SetMtu(kcpMTU)
	//lint:ignore SA1019 stream mode (no message boundaries, segments filled) is what a byte-stream user sets; kcp-go marks it deprecated but keeps it
	s.SetStreamMode(true)
	s.SetWriteDelay(false)
	s.SetACKNoDelay(true)
}

// ListenKCP listens with kcp-go on 127.0.0.1 (a port the kernel picks),
// AES-128, with fec. Closing the listener closes its socket, which ends
// every session it accepted.
func ListenKCP(fec KCPFEC) (*kcp.Listener, error) {
	block, err := kcpBlock()
	if err != nil {
		return nil, err
	}
	ln, err := kcp.ListenWithOptions("127.0.0.1:0", block, fec.Data, fec.Parity)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(ln.SetReadBuffer(kcpSocketBuffer), ln.SetWriteBuffer(kcpSocketBuffer)); err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	return ln, nil
}

// KCPAddr returns a kcp-go listener's address.
func KCPAddr(ln *kcp.Listener) netip.AddrPort {
	return ln.Addr().(*net.UDPAddr).AddrPort()
}

// DialKCP opens a UDP socket on 127.0.0.1 (kcp.DialWithOptions would bind
// the wildcard address) and a tuned KCP session over it towards addr (a
// listener of ListenKCP with the same fec, or a relay in front of one).
// Closing the session closes the socket. KCP has no handshake: the
// listener accepts the session when its first datagram arrives.
func DialKCP(addr netip.AddrPort, fec KCPFEC) (*kcp.UDPSession, error) {
	block, err := kcpBlock()
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	if err := errors.Join(udp.SetReadBuffer(kcpSocketBuffer), udp.SetWriteBuffer(kcpSocketBuffer)); err != nil {
		return nil, errors.Join(err, udp.Close())
	}
	// The conversation id may be any: a listener tells sessions apart by
	// their address, and each socket carries one session.
	s, err := kcp.NewConn4(1, net.UDPAddrFromAddrPort(addr), block, fec.Data, fec.Parity, true, udp)
	if err != nil {
		return nil, errors.Join(err, udp.Close())
	}
	TuneKCP(s)
	return s, nil
}

// AcceptKCP waits, until ctx ends, for the next session on ln and tunes
// it. The caller closes the session.
func AcceptKCP(ctx context.Context, ln *kcp.Listener) (*kcp.UDPSession, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	if err := ln.SetDeadline(dl); err != nil {
		return nil, err
	}
	s, err := ln.AcceptKCP()
	if err != nil {
		return nil, err
	}
	TuneKCP(s)
	return s, nil
}
