package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The transfer protocol of `petrel send` and `petrel serve`, on one stream:
//
//	sender: the file's bytes, then FIN (CloseWrite)
//	server: after the FIN, once the bytes are stored (fsync'd): a receipt,
//	        the 8-byte big-endian count of bytes received and their 32-byte
//	        SHA-256, then FIN (Close)
//
// The sender checks both against what it sent. A transport acknowledgement
// only says the peer's transport has the bytes; the receipt says the
// receiving program read all of them, in order, and stored them.

// receiptSize is the length of a receipt on the wire.
const receiptSize = 8 + sha256.Size

// receipt is what the receiver saw of a stream.
type receipt struct {
	n   uint64
	sum [sha256.Size]byte
}

func (r receipt) marshal() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, receiptSize), r.n)
	return append(b, r.sum[:]...)
}

func (r receipt) String() string { return fmt.Sprintf("%d bytes, SHA-256 %x", r.n, r.sum) }

// readReceipt reads a receipt and the FIN after it from r.
func readReceipt(r io.Reader) (receipt, error) {
	var b [receiptSize + 1]byte
	if _, err := io.ReadFull(r, b[:receiptSize]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return receipt{}, errors.New("the receiver closed the stream without a receipt")
		}
		return receipt{}, err
	}
	switch n, err := io.ReadFull(r, b[receiptSize:]); {
	case n > 0:
		return receipt{}, errors.New("the receiver sent more than a receipt: is it a `petrel serve`?")
	case !errors.Is(err, io.EOF):
		return receipt{}, fmt.Errorf("after the receipt: %w", err)
	}
	rc := receipt{n: binary.BigEndian.Uint64(b[:8])}
	copy(rc.sum[:], b[8:receiptSize])
	return rc, nil
}

// Abort codes of the transfer protocol (Stream.Abort).
const (
	abortInterrupted uint64 = 1 // the sender was interrupted (SIGINT, SIGTERM)
	abortNotStored   uint64 = 2 // the receiver could not store the bytes
	abortShutdown    uint64 = 3 // the receiver is shutting down
	abortReadFailed  uint64 = 4 // the sender could not read what it was sending
)

// abortReason says what an abort code of the transfer protocol means.
func abortReason(code uint64) string {
	switch code {
	case abortInterrupted:
		return "the sender was interrupted"
	case abortNotStored:
		return "the receiver could not store the bytes (see its log)"
	case abortShutdown:
		return "the receiver is shutting down"
	case abortReadFailed:
		return "the sender could not read its input"
	}
	return fmt.Sprintf("code %d", code)
}
