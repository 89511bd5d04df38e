// Package fuzzseed adds a fuzzer's inline seeds and, on request, writes them
// to its committed corpus, so the seeds the fuzzers start from and the
// files under testdata/fuzz are one list. Tests only.
package fuzzseed

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var rewrite = flag.Bool("fuzzseeds", false, "rewrite the committed fuzz seed corpus (testdata/fuzz) from the fuzzers' inline seeds")

// added counts the seeds each fuzzer added, to name their files.
var (
	mu    sync.Mutex
	added = map[string]int{}
)

// Add adds one seed input to f (f.Add) and, when the tests run with
// -fuzzseeds (go test -run '^Fuzz' -fuzzseeds), writes it to the committed
// corpus testdata/fuzz/<FuzzName>/seed-<i> as well.
func Add(f *testing.F, args ...any) {
	f.Helper()
	f.Add(args...)
	if !*rewrite {
		return
	}
	mu.Lock()
	i := added[f.Name()]
	added[f.Name()]++
	mu.Unlock()
	if err := write(f.Name(), i, args); err != nil {
		f.Fatal(err)
	}
}

// write writes one input of fuzzer as testdata/fuzz/<fuzzer>/seed-<i>, in
// the corpus file format of go test -fuzz.
func write(fuzzer string, i int, args []any) error {
	dir := filepath.Join("testdata", "fuzz", fuzzer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&sb, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&sb, "string(%q)\n", v)
		case uint8:
			fmt.Fprintf(&sb, "byte(%q)\n", v)
		case bool:
			fmt.Fprintf(&sb, "bool(%v)\n", v)
		case uint, uint16, uint32, uint64, int, int8, int16, int32, int64, float32, float64:
			fmt.Fprintf(&sb, "%T(%v)\n", v, v)
		default:
			return fmt.Errorf("seed type %T", a)
		}
	}
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(sb.String()), 0o644)
}
