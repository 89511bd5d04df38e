package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/petrel-transport/petrel/core"
)

// maxCaptured bounds the datagrams the proxy keeps each way.
const maxCaptured = 4096

// capture is a session of the storm's own with the target, and a copy of
// every datagram of it: out (to the target; the first is the handshake
// initiation) and in (from the target). The session stays open during the
// storm, so replayed and bit-flipped copies reach a live connection.
//
// Guard map: out and in are written by the proxy goroutine until
// captureSession returns, and read-only after.
type capture struct {
	node    *core.Node
	conn    *core.Conn
	proxy   *net.UDPConn
	done    chan struct{}
	out, in [][]byte
	mu      sync.Mutex
}

// captureSession dials the target through a UDP proxy on loopback and
// exchanges messages, keeping a copy of each datagram both ways.
func captureSession(ctx context.Context, c stormConfig, at netip.AddrPort, key core.PeerKey) (*capture, error) {
	local := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if at.Addr().IsLoopback() {
		local = netip.AddrPortFrom(at.Addr().Unmap(), 0)
		if at.Addr().Unmap().Is4() {
			local = netip.MustParseAddrPort("127.0.0.1:0")
		}
	}
	proxy, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, err
	}
	cfg, err := c.config()
	if err != nil {
		proxy.Close()
		return nil, err
	}
	n, err := core.Listen(netip.AddrPortFrom(proxy.LocalAddr().(*net.UDPAddr).AddrPort().Addr(), 0).String(), cfg)
	if err != nil {
		proxy.Close()
		return nil, err
	}
	cp := &capture{node: n, proxy: proxy, done: make(chan struct{})}
	go cp.forward(at, n.Addr())
	ok := false
	defer func() {
		if !ok {
			cp.close()
		}
	}()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cp.conn, err = n.Dial(dctx, proxy.LocalAddr().String(), key)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 900)
	for i := range 64 {
		msg[0] = byte(i)
		if err := cp.conn.SendMessage(dctx, msg); err != nil {
			return nil, err
		}
	}
	// A stream, written and closed, would count as a stored file at
	// `petrel serve`; messages and their ACKs are enough to capture.
	if err := cp.waitFor(dctx, 4); err != nil {
		return nil, err
	}
	cp.mu.Lock()
	cp.out, cp.in = cp.out[:len(cp.out):len(cp.out)], cp.in[:len(cp.in):len(cp.in)]
	cp.mu.Unlock()
	ok = true
	return cp, nil
}

// waitFor waits until at least n datagrams came from the target.
func (cp *capture) waitFor(ctx context.Context, n int) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		cp.mu.Lock()
		got := len(cp.in)
		cp.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("the target sent too few packets to capture")
		case <-t.C:
		}
	}
}

// forward relays datagrams between the storm's node and the target until
// the proxy socket closes, keeping copies.
func (cp *capture) forward(target, node netip.AddrPort) {
	defer close(cp.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := cp.proxy.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		d := buf[:n]
		to, list := target, &cp.out
		if from.Addr().Unmap() == target.Addr().Unmap() && from.Port() == target.Port() {
			to, list = node, &cp.in
		}
		cp.mu.Lock()
		if len(*list) < maxCaptured {
			*list = append(*list, append([]byte(nil), d...))
		}
		cp.mu.Unlock()
		_, _ = cp.proxy.WriteToUDPAddrPort(d, to)
	}
}

// snapshot returns the captured datagrams (read-only).
func (cp *capture) snapshot() (out, in [][]byte) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.out, cp.in
}

// close ends the session and the proxy.
func (cp *capture) close() {
	if cp.conn != nil {
		cp.conn.Close()
	}
	cp.node.Close()
	cp.proxy.Close()
	<-cp.done
}
