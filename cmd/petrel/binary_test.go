package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// storedName is the name of a stream's file in --out: the sender's key
// prefix (16 hex digits, as core.PeerKey prints) and the stream id.
var storedName = regexp.MustCompile(`^[0-9a-f]{16}-[0-9]+$`)

// built is the petrel binary the process tests run, built once per test
// binary by petrelBinary and removed by TestMain (removingBinary).
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// petrelBinary builds the command with a plain `go build` (no -race even
// under `go test -race`: it builds in seconds and moves data at full speed)
// and returns its path.
func petrelBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "petrel-cli-test-"); built.err != nil {
			return
		}
		path := filepath.Join(built.dir, "petrel")
		if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.path = path
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// removingBinary runs the tests, then removes the binary petrelBinary built.
type removingBinary struct{ m *testing.M }

func (r removingBinary) Run() int {
	defer func() {
		if built.dir != "" {
			os.RemoveAll(built.dir)
		}
	}()
	return r.m.Run()
}

// writeRandomFile writes n bytes of a seeded random stream to path.
func writeRandomFile(t *testing.T, path string, n int64, seed byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{seed}), n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fileSum returns the size and the SHA-256 of the file at path.
func fileSum(t *testing.T, path string) (int64, [sha256.Size]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return n, [sha256.Size]byte(h.Sum(nil))
}

// serveLines reads the key and addr lines `petrel serve` prints first.
func serveLines(r *bufio.Reader) (key, addr string, err error) {
	for key == "" || addr == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", "", fmt.Errorf("serve's stdout ended before its key and addr lines: %w", err)
		}
		field, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch field {
		case "key":
			key = value
		case "addr":
			addr = value
		}
	}
	return key, addr, nil
}

// TestServeSendBinary runs the built command as two processes: `petrel
// serve --count 1` stores what `petrel send` sends of a 64 MiB file of
// random bytes; both must exit 0 and the stored file must be the sent one.
// The global flags ride along (profiles, log level) to show they work on
// both commands.
func TestServeSendBinary(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	bin := petrelBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	src := filepath.Join(dir, "random.bin")
	writeRandomFile(t, src, size, 1)
	_, want := fileSum(t, src)

	serve := exec.CommandContext(ctx, bin, "serve", "--out", inbox, "--count", "1",
		"--cpuprofile", filepath.Join(dir, "serve.cpu"), "--log-level", "debug")
	var serveLog bytes.Buffer // read only once serve has exited
	serve.Stderr = &serveLog
	serve.WaitDelay = 5 * time.Second
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	wait := func() error {
		exited = true
		_, _ = io.Copy(io.Discard, stdout)
		return serve.Wait()
	}
	defer func() {
		if !exited {
			_ = serve.Process.Kill()
			_ = wait()
		}
	}()
	key, addr, err := serveLines(bufio.NewReader(stdout))
	if err != nil {
		_ = serve.Process.Kill()
		t.Fatalf("%v (exit: %v)\nserve's log:\n%s", err, wait(), serveLog.String())
	}

	send := exec.CommandContext(ctx, bin, "send", "--to", addr, "--key", key,
		"--memprofile", filepath.Join(dir, "send.mem"), src)
	sendOut, err := send.CombinedOutput()
	if err != nil {
		_ = serve.Process.Kill()
		_ = wait()
		t.Fatalf("send: %v\n%s\nserve's log:\n%s", err, sendOut, serveLog.String())
	}
	if err := wait(); err != nil {
		t.Fatalf("serve: %v\n%s\nsend's output:\n%s", err, serveLog.String(), sendOut)
	}
	if !strings.Contains(string(sendOut), fmt.Sprintf("(%d bytes)", size)) || !strings.Contains(string(sendOut), fmt.Sprintf("SHA-256 %x", want)) {
		t.Errorf("send's summary does not show the size and the confirmed hash:\n%s", sendOut)
	}
	if log := serveLog.String(); !strings.Contains(log, "msg=received") || !strings.Contains(log, fmt.Sprintf("bytes=%d", size)) {
		t.Errorf("serve's log does not show the stream received:\n%s", log)
	}

	files, err := os.ReadDir(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("--out holds %d files, want 1: %v", len(files), files)
	}
	if !storedName.MatchString(files[0].Name()) {
		t.Errorf("stored as %s, want <the sender's key prefix>-<stream id>", files[0].Name())
	}
	if n, got := fileSum(t, filepath.Join(inbox, files[0].Name())); n != size || got != want {
		t.Errorf("stored %d bytes with SHA-256 %x; sent %d with %x", n, got, size, want)
	}
	for _, profile := range []string{"serve.cpu", "send.mem"} {
		if fi, err := os.Stat(filepath.Join(dir, profile)); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v, %v", profile, fi, err)
		}
	}
}
