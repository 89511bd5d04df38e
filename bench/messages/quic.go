package messages

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
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// quicTransport: quic-go, one bidirectional stream per connection carrying
// length-prefixed messages, TLS 1.3 with a self-signed ECDSA certificate
// made in memory (the client trusts exactly it), ALPN petrel-bench.
type quicTransport struct{}

var (
	_ transport = quicTransport{}
	_ listener  = quicListener{}
)

const alpn = "petrel-bench"

// quicConfig gives quic-go the flow-control windows petrel starts with
// (session.DefaultWindow: 4 MiB per connection), so neither side waits on
// window growth before a 32 x 64 KB pipeline fits, and lets them grow to
// 16 MiB as quic-go's auto-tuning would.
func quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           10 * time.Second,
		MaxIdleTimeout:                 30 * time.Second,
		InitialStreamReceiveWindow:     4 << 20,
		MaxStreamReceiveWindow:         16 << 20,
		InitialConnectionReceiveWindow: 4 << 20,
		MaxConnectionReceiveWindow:     16 << 20,
	}
}

// certs are the server's and the client's TLS configurations, made once.
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
		NextProtos:   []string{alpn},
		MinVersion:   tls.VersionTLS13,
	}
	client := &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{alpn}, MinVersion: tls.VersionTLS13}
	return &[2]*tls.Config{server, client}, nil
})

type quicListener struct{ ln *quic.Listener }

func (quicTransport) listen(context.Context) (listener, error) {
	tc, err := certs()
	if err != nil {
		return nil, err
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", tc[0], quicConfig())
	if err != nil {
		return nil, err
	}
	return quicListener{ln}, nil
}

// dial opens a UDP socket on 127.0.0.1 (quic.DialAddr would bind the
// wildcard address), a quic.Transport over it, the connection and its one
// stream; closing the msgConn closes all four.
func (quicTransport) dial(ctx context.Context, l listener) (msgConn, error) {
	tc, err := certs()
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	tr := &quic.Transport{Conn: udp}
	closeAll := func(c *quic.Conn) error {
		var err error
		if c != nil {
			err = c.CloseWithError(0, "")
		}
		return errors.Join(err, tr.Close(), udp.Close())
	}
	c, err := tr.Dial(ctx, l.(quicListener).ln.Addr(), tc[1], quicConfig())
	if err != nil {
		_ = closeAll(nil)
		return nil, err
	}
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		_ = closeAll(c)
		return nil, err
	}
	return newFramed(s, func() error { return closeAll(c) }), nil
}

// accept waits for a connection and for its first stream (a stream is
// announced to the peer by its first data: the client's first message).
func (l quicListener) accept(ctx context.Context) (msgConn, error) {
	c, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.AcceptStream(ctx)
	if err != nil {
		_ = c.CloseWithError(0, "")
		return nil, err
	}
	return newFramed(s, func() error { return c.CloseWithError(0, "") }), nil
}

// Close stops listening and closes the socket, which ends every connection
// it accepted.
func (l quicListener) Close() error { return l.ln.Close() }
