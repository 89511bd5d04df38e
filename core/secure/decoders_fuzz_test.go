package secure_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/internal/fuzzseed"
)

// Fuzzers of the package's other decoders: key files and public keys (read
// from disk and from the command line), timestamps (decrypted from an
// initiation) and protected packets (from the network).

// FuzzParseKeyFile: any input parses or fails with ErrKeyFile; what parses
// is a valid pair, and marshals to a file that parses to the same pair
// (decode(encode(x)) == x). The reference: the same fields found by a
// plain line-by-line reading agree with what was parsed.
func FuzzParseKeyFile(f *testing.F) {
	for _, s := range keyFileSeeds(f) {
		fuzzseed.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kp, err := secure.ParseKeyFile(data)
		if err != nil {
			if !errors.Is(err, secure.ErrKeyFile) {
				t.Fatalf("error %v is not ErrKeyFile", err)
			}
			if kp != (secure.KeyPair{}) {
				t.Fatal("a refused key file left key material in the result")
			}
			return
		}
		if !kp.Valid() {
			t.Fatal("parsed a pair whose public key does not match")
		}
		again, err := secure.ParseKeyFile(secure.MarshalKeyFile(&kp))
		if err != nil || again != kp {
			t.Fatalf("marshalled pair parses as %v, %v", again, err)
		}
		// Reference: the last "private"/"public" lines hold the keys.
		var priv, pub string
		for _, line := range strings.Split(string(data), "\n") {
			field, value, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch field {
			case "private":
				priv = strings.TrimSpace(value)
			case "public":
				pub = strings.TrimSpace(value)
			}
		}
		if !strings.EqualFold(priv, hex.EncodeToString(kp.Private[:])) || !strings.EqualFold(pub, kp.Public.String()) {
			t.Fatalf("parsed %x/%v from a file whose fields say %q/%q", kp.Private, kp.Public, priv, pub)
		}
	})
}

func keyFileSeeds(tb testing.TB) [][]byte {
	kp := keyPair(tb, "key file seed")
	good := secure.MarshalKeyFile(&kp)
	other := keyPair(tb, "another")
	swapped := bytes.Replace(good, []byte(kp.Public.String()), []byte(other.Public.String()), 1)
	upper := bytes.ToUpper(good)
	return [][]byte{
		good,
		bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")),
		append([]byte("\n# moved\n\n"), good...),
		swapped,               // public key of another pair
		good[:len(good)-10],   // cut short
		append(good, good...), // fields repeated
		upper,                 // header in capitals
		[]byte("petrel-identity v1\nprivate 00\npublic 00\n"),
	}
}

// FuzzParsePublicKey compares ParsePublicKey with the obvious reference:
// exactly 64 hex digits, either case, and nothing else; and the key prints
// back as the same digits in lower case.
func FuzzParsePublicKey(f *testing.F) {
	kp := keyPair(f, "public key seed")
	for _, s := range []string{kp.Public.String(), strings.ToUpper(kp.Public.String()), kp.Public.String()[:63], " " + kp.Public.String(), strings.Repeat("0", 64), strings.Repeat("g", 64)} {
		fuzzseed.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := secure.ParsePublicKey(s)
		ref, refErr := hex.DecodeString(s)
		refOK := refErr == nil && len(ref) == secure.KeySize
		if (err == nil) != refOK {
			t.Fatalf("ParsePublicKey(%q): %v; reference accepts: %v", s, err, refOK)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(k[:], ref) || k.String() != strings.ToLower(s) {
			t.Fatalf("ParsePublicKey(%q) = %v", s, k)
		}
	})
}

// FuzzStamper drives a Stamper with arbitrary wall clocks (forwards, back,
// equal): every stamp is strictly After the one before (the replay
// guard's premise), never before the wall clock's grain, and decodes with
// Time to the instant it encodes.
func FuzzStamper(f *testing.F) {
	fuzzseed.Add(f, []byte{})
	fuzzseed.Add(f, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(wall0.UnixNano())), uint64(wall0.UnixNano())))
	fuzzseed.Add(f, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(wall0.UnixNano())), uint64(wall0.Add(-time.Hour).UnixNano())))
	f.Fuzz(func(t *testing.T, walls []byte) {
		var s secure.Stamper
		var last secure.Timestamp
		for i := 0; i+8 <= len(walls) && i < 8*64; i += 8 {
			// Walls from 1970 to 2262 (UnixNano's range).
			wall := time.Unix(0, int64(binary.BigEndian.Uint64(walls[i:])>>1))
			ts := s.Next(wall)
			if i > 0 && !ts.After(last) {
				t.Fatalf("stamp %x not after %x", ts, last)
			}
			if last.After(ts) || ts == last && i > 0 {
				t.Fatal("After is not a strict order")
			}
			got := ts.Time()
			if grain := wall.Add(-(1 << 24) * time.Nanosecond); got.Before(grain) {
				t.Fatalf("stamp %v before the wall clock %v", got, wall)
			}
			var back secure.Timestamp
			binary.BigEndian.PutUint64(back[:8], uint64(got.Unix())+0x400000000000000a)
			binary.BigEndian.PutUint32(back[8:], uint32(got.Nanosecond()))
			if back != ts {
				t.Fatalf("stamp %x decodes to %v, which encodes as %x", ts, got, back)
			}
			last = ts
		}
	})
}

// FuzzOpen: a protected packet opens to what was sealed; with any one byte
// of it changed, or opened as another packet number, it fails with
// ErrOpen; arbitrary bytes never open and never panic.
func FuzzOpen(f *testing.F) {
	fuzzseed.Add(f, []byte("payload"), uint64(0), uint16(0), uint8(17), false)
	fuzzseed.Add(f, bytes.Repeat([]byte{0xab}, 1200), uint64(1<<20), uint16(600), uint8(20), true)
	fuzzseed.Add(f, []byte{}, uint64(7), uint16(3), uint8(0), false)
	f.Fuzz(func(t *testing.T, payload []byte, pn uint64, flip uint16, hdrLen uint8, chacha bool) {
		alg := secure.AES128GCM
		if chacha {
			alg = secure.ChaCha20Poly1305
		}
		var s1, s2 [32]byte
		s1[0], s2[0] = 1, 2
		tx, err := secure.NewProtector(alg, &s1, &s2, secure.ProtectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		rx, err := secure.NewProtector(alg, &s2, &s1, secure.ProtectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		defer rx.Close()
		pn %= 1 << 62
		h := int(hdrLen % 32)
		pkt := make([]byte, h, h+len(payload)+16)
		for i := range pkt {
			pkt[i] = byte(i * 31)
		}
		pkt = append(pkt, payload...)

		// Arbitrary bytes: never open, never panic.
		if _, err := rx.Open(bytes.Clone(pkt), h, pn, false, t0); err == nil && len(pkt)-h >= 16 {
			t.Fatal("opened bytes nobody sealed")
		}

		k, err := tx.SealKey(pn, t0)
		if err != nil {
			t.Fatalf("SealKey(%d): %v", pn, err)
		}
		sealed := k.Seal(pkt, h, pn)
		phase := k.Phase()
		if len(sealed) != h+len(payload)+16 {
			t.Fatalf("sealed %d bytes into %d", len(payload), len(sealed))
		}
		bad := bytes.Clone(sealed)
		bad[int(flip)%len(bad)] ^= 1 << (flip >> 13)
		if _, err := rx.Open(bad, h, pn, phase, t0); !errors.Is(err, secure.ErrOpen) {
			t.Fatalf("a changed byte %d opened: %v", int(flip)%len(bad), err)
		}
		if _, err := rx.Open(bytes.Clone(sealed), h, (pn+1)%(1<<62), phase, t0); !errors.Is(err, secure.ErrOpen) {
			t.Fatalf("opened as another packet number: %v", err)
		}
		got, err := rx.Open(sealed, h, pn, phase, t0)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("Open = %x, %v; sealed %x", got, err, payload)
		}
	})
}
