package batchio

import "io"

// batchConn is the API every platform's Conn offers; the compile-time check
// below keeps conn_linux.go and conn_default.go in step.
type batchConn interface {
	io.Closer
	ReadBatch(msgs []Message) (int, error)
	Drain(msgs []Message, handle func(msgs []Message)) (int, error)
	WriteBatch(msgs []Message) (int, error)
	BatchSize() int
	Capabilities() Capabilities
	Stats() Stats
}

var _ batchConn = (*Conn)(nil)
