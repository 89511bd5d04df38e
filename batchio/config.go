package batchio

import "fmt"

const (
	// DefaultBatchSize is the number of datagrams one system call moves when
	// Config.BatchSize is 0 (the size wireguard-go and quic-go settled on).
	DefaultBatchSize = 64
	// MaxBatchSize bounds Config.BatchSize: a sendmmsg/recvmmsg vector is
	// capped by the kernel at UIO_MAXIOV = 1024 (include/uapi/linux/uio.h).
	MaxBatchSize = 1024
	// DefaultSocketBuffer is SO_RCVBUF/SO_SNDBUF requested when the Config
	// field is 0: 8 MiB absorbs a burst of several thousand MTU datagrams.
	DefaultSocketBuffer = 8 << 20
	// DefaultMaxDatagramSize is the receive slot size when GRO is off and
	// Config.MaxDatagramSize is 0: above petrel's 1200-byte datagrams and a
	// 1500-byte Ethernet MTU (RFC 894).
	DefaultMaxDatagramSize = 2048
	// maxUDPPayload is the largest UDP payload any datagram can carry:
	// 65535 (RFC 768 length field) - 8 (UDP header); a GRO receive slot has
	// this size so no coalesced receive is truncated.
	maxUDPPayload = 65535 - 8
)

// Config configures a Conn. The zero value is the production default.
type Config struct {
	// BatchSize is the number of datagrams one system call moves, in
	// [1, MaxBatchSize]. 0 means DefaultBatchSize. The portable fallback
	// always uses 1.
	BatchSize int

	// RecvBufferSize and SendBufferSize are requested for SO_RCVBUF and
	// SO_SNDBUF (with the *FORCE variants first, which succeed when the
	// process has CAP_NET_ADMIN). 0 means DefaultSocketBuffer; a negative
	// value leaves the kernel's setting alone. Capabilities reports what
	// the kernel granted.
	RecvBufferSize, SendBufferSize int

	// MaxDatagramSize is the largest datagram ReadBatch accepts without
	// truncation when GRO is off, in [1, 65527]. 0 means
	// DefaultMaxDatagramSize. With GRO on every receive slot is 64 KB, so
	// the receive arena is BatchSize * 64 KB (4 MB at the default).
	MaxDatagramSize int

	// DisableGSO turns UDP GSO off even where the kernel offers it.
	DisableGSO bool
	// DisableGRO turns UDP GRO off even where the kernel offers it.
	DisableGRO bool

	// DisableMmsg moves one datagram per system call, as the portable
	// fallback does off Linux: recvmsg and sendmsg of one datagram instead
	// of recvmmsg and sendmmsg of a batch, and with them neither GSO nor
	// GRO (each is many datagrams in one call). BatchSize must then be 0
	// or 1. It is a measurement and compatibility knob: it shows what
	// batching the system calls is worth (bench/transfer's
	// BenchmarkAblation/no-mmsg), and it serves a kernel or sandbox
	// (seccomp filter) that refuses the mmsg calls. Everything else (raw
	// sends, packet info, drop counters) stays as with batches.
	DisableMmsg bool
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.DisableMmsg {
		if c.BatchSize > 1 {
			return c, fmt.Errorf("batchio: BatchSize %d with DisableMmsg (one datagram per system call)", c.BatchSize)
		}
		c.BatchSize = 1
		c.DisableGSO, c.DisableGRO = true, true
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return c, fmt.Errorf("batchio: BatchSize %d outside [1, %d]", c.BatchSize, MaxBatchSize)
	}
	if c.RecvBufferSize == 0 {
		c.RecvBufferSize = DefaultSocketBuffer
	}
	if c.SendBufferSize == 0 {
		c.SendBufferSize = DefaultSocketBuffer
	}
	if c.MaxDatagramSize == 0 {
		c.MaxDatagramSize = DefaultMaxDatagramSize
	}
	if c.MaxDatagramSize < 1 || c.MaxDatagramSize > maxUDPPayload {
		return c, fmt.Errorf("batchio: MaxDatagramSize %d outside [1, %d]", c.MaxDatagramSize, maxUDPPayload)
	}
	return c, nil
}
