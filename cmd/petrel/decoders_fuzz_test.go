package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzReadReceipt: the sender's parser of what `petrel serve` answers. A
// stream is a receipt exactly when it is 40 bytes then the end (the
// reference), and then it parses to the count and hash those bytes say,
// and marshals back to them; read one byte at a time it says the same.
func FuzzReadReceipt(f *testing.F) {
	good := receipt{n: 1 << 40, sum: sha256.Sum256([]byte("petrel"))}.marshal()
	fuzzseed.Add(f, good)
	fuzzseed.Add(f, good[:receiptSize-1])
	fuzzseed.Add(f, append(bytes.Clone(good), 0))
	fuzzseed.Add(f, []byte{})
	f.Fuzz(func(t *testing.T, wire []byte) {
		got, err := readReceipt(bytes.NewReader(wire))
		slow, slowErr := readReceipt(iotest.OneByteReader(bytes.NewReader(wire)))
		if (err == nil) != (len(wire) == receiptSize) || (slowErr == nil) != (err == nil) {
			t.Fatalf("%d bytes: %v (one byte at a time: %v)", len(wire), err, slowErr)
		}
		if err != nil {
			return
		}
		if got != slow || got.n != binary.BigEndian.Uint64(wire) || !bytes.Equal(got.sum[:], wire[8:]) ||
			!bytes.Equal(got.marshal(), wire) {
			t.Fatalf("%x parsed as %v", wire, got)
		}
	})
}

// FuzzParsePeerKey: --key is accepted exactly when, spaces trimmed, it is
// 64 hex digits of a key not all zeros (the reference), and names that key.
func FuzzParsePeerKey(f *testing.F) {
	key := strings.Repeat("5c0f3e", 10) + "abcd"
	for _, s := range []string{key, " " + key + "\n", strings.ToUpper(key), key[:63], strings.Repeat("0", 64), "", "not a key"} {
		fuzzseed.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pk, err := parsePeerKey(s)
		ref, refErr := hex.DecodeString(strings.TrimSpace(s))
		refOK := refErr == nil && len(ref) == 32 && !bytes.Equal(ref, make([]byte, 32))
		if (err == nil) != refOK {
			t.Fatalf("parsePeerKey(%q): %v; reference accepts: %v", s, err, refOK)
		}
		if err == nil && !bytes.Equal(pk[:], ref) {
			t.Fatalf("parsePeerKey(%q) = %x", s, pk)
		}
	})
}
