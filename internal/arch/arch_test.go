// Package arch holds one test: the import floors of ../shared/DESIGN.md
// ("an arrow may only point down"), checked on every non-test Go file of
// the repository, so a layering violation fails `make test`.
//
// bench/ is a module of its own (github.com/petrel-transport/petrel/bench,
// so quic-go and the other transports it compares with stay out of the
// library's go.mod), but its import paths still sit under the library's and
// the walk parses imports only, with no module resolution: it keeps checking
// bench at floor 5, as DESIGN.md places it (bench imports nothing above it,
// e.g. cmd, and every bench package has a floor). Files behind build tags
// (bench's petrellisten adapter) are parsed too.
package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/petrel-transport/petrel"

// floors maps a package (module-relative) to its floor; imports of petrel
// packages must go to a strictly lower floor, or to the package's own
// subtree helpers listed in allowed.
var floors = map[string]int{
	"internal/monotime": 0,
	"internal/fuzzseed": 0, // tests only: the fuzzers' seeds and their committed corpus
	"internal/wheel":    1,
	"congestion":        1,
	"batchio":           1,
	"core/wire":         1,
	"core/secure":       1,
	"internal/netem":    1,
	"tracker":           2,
	"ring":              2,
	"core/simnet":       2,
	"internal/relay":    2,
	"core/session":      3,
	"core/loop":         3,
	"core":              4,
	"bench":             5,
	"cmd":               5,
}

// allowed lists the petrel imports each floor-2 package may make besides
// internal/monotime (DESIGN.md: tracker may import congestion for the
// release interface only; ring imports internal/wheel).
var allowed = map[string][]string{
	"tracker": {"internal/monotime", "congestion"},
	"ring":    {"internal/monotime", "internal/wheel"},
	// core/simnet: the impairment model and batchio's Message type.
	"core/simnet": {"internal/monotime", "internal/netem", "batchio"},
	// internal/relay: the same model over real sockets.
	"internal/relay": {"internal/monotime", "internal/netem", "batchio"},
}

// floorOf returns the floor of a module-relative package path, by its
// longest listed prefix.
func floorOf(pkg string) (string, int, bool) {
	best, f, ok := "", 0, false
	for p, fl := range floors {
		if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > len(best) {
			best, f, ok = p, fl, true
		}
	}
	return best, f, ok
}

func TestImportFloors(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n != "." && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		name, floor, ok := floorOf(rel)
		if !ok {
			t.Errorf("%s: package %q has no floor in DESIGN.md's table; add it here", path, rel)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(ip, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(ip, module+"/")
			depName, depFloor, ok := floorOf(dep)
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no floor", path, dep)
			case depName == name:
				// within one package's own subtree (e.g. bench/report -> bench)
			case depFloor >= floor:
				t.Errorf("%s (floor %d) imports %s (floor %d): arrows may only point down", path, floor, dep, depFloor)
			case allowed[name] != nil && !contains(allowed[name], depName):
				t.Errorf("%s imports %s; DESIGN.md allows %s only %v", path, dep, name, allowed[name])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: is the walk rooted at the module?", checked)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("root %s is not the module root: %v", root, err)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
