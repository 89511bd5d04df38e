package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// syncBuffer is a bytes.Buffer for the log of two commands run at once in
// one process (slog's default logger is the last command's).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeSend runs serve and send in this process, so that the leak
// check covers the goroutines of both: an empty file and a small one (sent
// with --persistent), one after the other, each stored whole under a name of its own; serve exits
// after --count 2 once the senders have closed their connections.
func TestServeSend(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	empty, small := filepath.Join(dir, "empty"), filepath.Join(dir, "small")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	writeRandomFile(t, small, 3<<20+7, 2)

	var logs syncBuffer
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"serve", "--out", inbox, "--count", "2"}, pw, &logs)
		pw.Close()
		served <- code
	}()
	waitServe := sync.OnceValue(func() int { return <-served })
	defer func() { cancel(); waitServe() }() // a failed test stops serve as SIGINT would
	key, addr, err := serveLines(bufio.NewReader(pr))
	if err != nil {
		t.Fatalf("%v (exit %d)\n%s", err, waitServe(), logs.String())
	}
	go io.Copy(io.Discard, pr) // nothing more is printed; this ends when serve does

	for i, file := range []string{empty, small} {
		var out bytes.Buffer
		args := []string{"send", "--to", addr, "--key", key}
		if i == 1 {
			// The supervised path: a persistent peer the node's supervisor
			// dials (the netns test restarts the receiver under it).
			args = append(args, "--persistent")
		}
		if code := run(ctx, append(args, file), &out, &logs); code != 0 {
			t.Fatalf("send %s: exit %d\n%s\nlog:\n%s", file, code, out.String(), logs.String())
		}
		if n, sum := fileSum(t, file); !strings.Contains(out.String(), fmt.Sprintf("(%d bytes)", n)) || !strings.Contains(out.String(), fmt.Sprintf("%x", sum)) {
			t.Errorf("send %s: the summary lacks the size or the hash:\n%s", file, out.String())
		}
	}
	if code := waitServe(); code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, logs.String())
	}

	stored, err := os.ReadDir(inbox)
	if err != nil {
		t.Fatal(err)
	}
	want := map[[32]byte]int64{}
	for _, file := range []string{empty, small} {
		n, sum := fileSum(t, file)
		want[sum] = n
	}
	for _, e := range stored {
		n, sum := fileSum(t, filepath.Join(inbox, e.Name()))
		if wn, ok := want[sum]; !ok || wn != n || !storedName.MatchString(e.Name()) {
			t.Errorf("stored %s: %d bytes, SHA-256 %x: not one of the files sent, or misnamed", e.Name(), n, sum)
		}
		delete(want, sum)
	}
	if len(want) != 0 {
		t.Errorf("%d files sent were not stored; --out holds %d", len(want), len(stored))
	}
}
