package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateExclusive: a stream's file never replaces another; a taken
// name gets the next free suffix.
func TestCreateExclusive(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := range 3 {
		f, err := createExclusive(dir, "5c0f3e1a2b3c4d5e-0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(f.Name()))
		f.Close()
	}
	if want := []string{"5c0f3e1a2b3c4d5e-0", "5c0f3e1a2b3c4d5e-0.1", "5c0f3e1a2b3c4d5e-0.2"}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("names %v, want %v", names, want)
	}
	for i, name := range names {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || len(b) != i {
			t.Errorf("%s: %d bytes, %v; want %d (no file was replaced)", name, len(b), err, i)
		}
	}
	if _, err := createExclusive(filepath.Join(dir, "missing"), "x"); err == nil {
		t.Error("created a file in a missing directory")
	}
}

// TestStoredStreamDiscard: a stream that did not arrive whole leaves no
// file behind; one that did is on disk once committed.
func TestStoredStreamDiscard(t *testing.T) {
	s := &server{out: t.TempDir()}
	for _, commit := range []bool{false, true} {
		o, err := s.open([32]byte{1}, 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Write([]byte("partial")); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := o.commit(); err != nil {
				t.Fatal(err)
			}
		} else {
			o.discard()
		}
		_, err = os.Stat(o.name())
		if exists := err == nil; exists != commit {
			t.Errorf("committed %v: file exists %v (%v)", commit, exists, err)
		}
	}
	discard, _ := (&server{}).open([32]byte{1}, 4)
	if n, err := discard.Write([]byte("bytes")); n != 5 || err != nil || discard.commit() != nil {
		t.Errorf("without --out: Write %d, %v", n, err)
	}
}

func TestReceipt(t *testing.T) {
	r := receipt{n: 1 << 40, sum: sha256.Sum256([]byte("petrel"))}
	b := r.marshal()
	if len(b) != receiptSize {
		t.Fatalf("%d bytes, want %d", len(b), receiptSize)
	}
	for _, tc := range []struct {
		name string
		wire []byte
		want string // in the error; "" for none
	}{
		{"receipt and FIN", b, ""},
		{"nothing", nil, "without a receipt"},
		{"truncated", b[:20], "without a receipt"},
		{"more than a receipt", append(append([]byte(nil), b...), 0), "more than a receipt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readReceipt(bytes.NewReader(tc.wire))
			switch {
			case tc.want == "" && (err != nil || got != r):
				t.Errorf("%v, %v; want %v", got, err, r)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	broken := errors.New("connection reset")
	if _, err := readReceipt(io.MultiReader(bytes.NewReader(b), errReader{broken})); !errors.Is(err, broken) {
		t.Errorf("a failure after the receipt: %v, want it wrapped", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestPatternChecker: the checker accepts the pattern however it is cut,
// from any offset, and names the first byte that differs.
func TestPatternChecker(t *testing.T) {
	pat := newPattern(97, 1)
	for _, start := range []int64{0, 5, 96, 1000} {
		src := &patternReader{pat: pat, off: start, limit: start + 500}
		var all bytes.Buffer
		if _, err := io.Copy(&all, src); err != nil {
			t.Fatal(err)
		}
		chk := &patternChecker{pat: pat, off: start}
		for b := all.Bytes(); len(b) > 0; {
			k := min(len(b), 37)
			if _, err := chk.Write(b[:k]); err != nil {
				t.Fatalf("start %d: %v", start, err)
			}
			b = b[k:]
		}
		if chk.off != start+500 {
			t.Errorf("start %d: checked up to %d, want %d", start, chk.off, start+500)
		}
		bad := append([]byte(nil), all.Bytes()...)
		bad[123] ^= 1
		var mismatch *mismatchError
		if _, err := (&patternChecker{pat: pat, off: start}).Write(bad); !errors.As(err, &mismatch) || mismatch.off != start+123 {
			t.Errorf("start %d: corrupted byte %d: %v", start, start+123, err)
		}
	}
}
