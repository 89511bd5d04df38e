package transports

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// ALPN is the application protocol both quic-go endpoints announce.
const ALPN = "petrel-bench"

// QUICConfig is the quic-go configuration of every benchmark: quic-go's
// defaults but for the flow-control windows, raised as a quic-go user
// tunes them for bulk transfer. They start where petrel's do (4 MiB,
// session.DefaultWindow, which core grants both per connection and per
// stream), where quic-go starts at 512 KiB per stream and 768 KiB per
// connection, and may grow to 16 MiB (quic-go's auto-tuning caps them at
// 6 MiB and 15 MiB by default), so neither side waits on window growth
// and a receive window of quic-go's is never smaller than petrel's. Each
// call returns a new Config the caller may change.
func QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           10 * time.Second,
		MaxIdleTimeout:                 30 * time.Second,
		InitialStreamReceiveWindow:     4 << 20,
		MaxStreamReceiveWindow:         16 << 20,
		InitialConnectionReceiveWindow: 4 << 20,
		MaxConnectionReceiveWindow:     16 << 20,
	}
}

// certs are the server's and the client's TLS configurations, made once:
// a self-signed ECDSA P-256 certificate for localhost and 127.0.0.1 that
// the client trusts, and no other.
var certs = sync.OnceValues(func() (*[2]*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "petrel-bench"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		NextProtos:   []string{ALPN},
		MinVersion:   tls.VersionTLS13,
	}
	client := &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS13}
	return &[2]*tls.Config{server, client}, nil
})

// ListenQUIC listens with quic-go on 127.0.0.1 (a port the kernel picks),
// through a quic.Transport over a socket of its own. The function it
// returns closes the transport, which ends every connection it accepted at
// once, and the socket: closing only a listener of quic.ListenAddr leaves
// its socket and goroutines up while any accepted connection drains,
// which at 5% loss and a 100 ms round trip outlasts a benchmark's
// goroutine-leak check.
func ListenQUIC(cfg *quic.Config) (*quic.Listener, func() error, error) {
	tc, err := certs()
	if err != nil {
		return nil, nil, err
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(tc[0], cfg)
	if err != nil {
		return nil, nil, errors.Join(err, tr.Close(), udp.Close())
	}
	return ln, func() error { return errors.Join(ln.Close(), tr.Close(), udp.Close()) }, nil
}

// DialQUIC opens a UDP socket on 127.0.0.1 (quic.DialAddr would bind the
// wildcard address), a quic.Transport over it, and a connection to addr (a
// listener of ListenQUIC, or a relay in front of one). The function it
// returns closes all three, and is the only way to close them.
func DialQUIC(ctx context.Context, addr netip.AddrPort, cfg *quic.Config) (*quic.Conn, func() error, error) {
	tc, err := certs()
	if err != nil {
		return nil, nil, err
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	tr := &quic.Transport{Conn: udp}
	c, err := tr.Dial(ctx, net.UDPAddrFromAddrPort(addr), tc[1], cfg)
	if err != nil {
		return nil, nil, errors.Join(err, tr.Close(), udp.Close())
	}
	return c, func() error { return errors.Join(c.CloseWithError(0, ""), tr.Close(), udp.Close()) }, nil
}

// AddrOf returns a quic-go listener's address as a netip.AddrPort.
func AddrOf(ln *quic.Listener) netip.AddrPort {
	return ln.Addr().(*net.UDPAddr).AddrPort()
}
