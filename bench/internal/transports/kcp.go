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
	// kcpWindow is the send and receive window in segments: 4096 segments
	// of kcpMTU are 4.7 MB, the 4 MiB that petrel's streams and the
	// benchmarks' quic-go start with (transports.QUICConfig), so no side
	// waits on a smaller window. KCP's default is 32 (kcp.go IKCP_WND_SND).
	kcpWindow = 4096
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

// kcpBlock returns the packet cipher of every KCP endpoint: AES-128 (kcp-go
// encrypts each datagram with AES in CFB mode behind a random nonce and a
// CRC32, crypt.go; it authenticates nothing, so it does less work per byte
// than an AEAD). No FEC: dataShards and parityShards are 0 everywhere (see
// bench/transfer's doc).
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
// AES-128, no FEC. Closing the listener closes its socket, which ends every
// session it accepted.
func ListenKCP() (*kcp.Listener, error) {
	block, err := kcpBlock()
	if err != nil {
		return nil, err
	}
	ln, err := kcp.ListenWithOptions("127.0.0.1:0", block, 0, 0)
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
// listener of ListenKCP, or a relay in front of one). Closing the session
// closes the socket. KCP has no handshake: the listener accepts the
// session when its first datagram arrives.
func DialKCP(addr netip.AddrPort) (*kcp.UDPSession, error) {
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
	s, err := kcp.NewConn4(1, net.UDPAddrFromAddrPort(addr), block, 0, 0, true, udp)
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
