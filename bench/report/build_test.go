package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildPerModule: packages of both modules (the library at the repo
// root, bench/ beside it) are listed and compiled in their own module
// directory, so each builds against its own go.mod; a package with no
// benchmark is left out.
func TestBuildPerModule(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles test binaries")
	}
	tmp := t.TempDir()
	var got []benchPkg
	for _, m := range []struct{ dir, pattern string }{
		{"../..", "./core/wire"},     // the library's module
		{"..", "./messages"},         // bench's own module (quic-go is only here)
		{"..", "./transfer"},         // the benchmarks of the transfer claims
		{"../..", "./internal/arch"}, // no benchmark: skipped
	} {
		pkgs, failed, err := build(m.dir, m.pattern, "", tmp, len(got))
		if err != nil || len(failed) > 0 {
			t.Fatalf("build %s in %s: %v %v", m.pattern, m.dir, err, failed)
		}
		got = append(got, pkgs...)
	}
	want := []string{"github.com/petrel-transport/petrel/core/wire", "github.com/petrel-transport/petrel/bench/messages", "github.com/petrel-transport/petrel/bench/transfer"}
	if len(got) != len(want) {
		t.Fatalf("built %d packages, want %v", len(got), want)
	}
	for i, p := range got {
		if p.pkg != want[i] {
			t.Errorf("package %d: %s, want %s", i, p.pkg, want[i])
		}
		if !strings.HasSuffix(filepath.ToSlash(p.dir), strings.TrimPrefix(want[i], "github.com/petrel-transport/petrel")) {
			t.Errorf("%s: directory %s", p.pkg, p.dir)
		}
		if _, err := os.Stat(p.bin); err != nil {
			t.Errorf("%s: no test binary: %v", p.pkg, err)
		}
	}
}
