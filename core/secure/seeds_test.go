package secure_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSeedFiles writes seeds, each one fuzz input (a []byte or a list of
// arguments), as the committed corpus testdata/fuzz/<fuzzer>/seed-<i> in
// the format go test reads ("go test fuzz v1"). Files found by fuzzing
// (regressions) live beside them and are kept.
func writeSeedFiles[T any](t *testing.T, fuzzer string, seeds []T) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range seeds {
		args, ok := any(seed).([]any)
		if !ok {
			args = []any{seed}
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
			case uint16:
				fmt.Fprintf(&sb, "uint16(%d)\n", v)
			case uint32:
				fmt.Fprintf(&sb, "uint32(%d)\n", v)
			case uint64:
				fmt.Fprintf(&sb, "uint64(%d)\n", v)
			case int32:
				fmt.Fprintf(&sb, "int32(%d)\n", v)
			case int64:
				fmt.Fprintf(&sb, "int64(%d)\n", v)
			case bool:
				fmt.Fprintf(&sb, "bool(%v)\n", v)
			default:
				t.Fatalf("seed type %T", a)
			}
		}
		file := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
		if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
