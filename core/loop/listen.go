package loop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// listenUDP binds n UDP sockets to addr, all with SO_REUSEPORT when n > 1.
// When addr's port is 0 the first socket gets one from the kernel and the
// others bind to that port. On failure it closes what it opened.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = reusePortControl
	}
	conns := make([]*net.UDPConn, 0, n)
	fail := func(err error) ([]*net.UDPConn, error) {
		for _, c := range conns {
			_ = c.Close()
		}
		return nil, err
	}
	for len(conns) < n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			return fail(err)
		}
		uc, ok := pc.(*net.UDPConn)
		if !ok {
			_ = pc.Close()
			return fail(fmt.Errorf("loop: %T is not a *net.UDPConn", pc))
		}
		conns = append(conns, uc)
		if len(conns) == 1 {
			addr = uc.LocalAddr().String() // the port the kernel chose
		}
	}
	return conns, nil
}

// localAddrPort returns c's bound address, IPv4 never v4-mapped.
func localAddrPort(c net.PacketConn) netip.AddrPort {
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
