package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// result is one benchmark line: its name without the GOMAXPROCS suffix, its
// iteration count and every "value unit" pair it printed.
type result struct {
	Pkg     string
	Name    string
	Iters   int64
	Metrics map[string]float64
	Line    string
	Round   int // the round of the run that printed it (main.run)
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseLine parses one line of `go test -bench` output. It reports false for
// anything that is not a benchmark result line.
func parseLine(pkg, line string) (result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return result{}, false
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return result{}, false
	}
	r := result{Pkg: pkg, Name: procSuffix.ReplaceAllString(f[0], ""), Iters: iters, Metrics: map[string]float64{}, Line: line}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		r.Metrics[normUnit(f[i+1])] = v
	}
	return r, true
}

// parse reads a whole `go test -bench` output of one package. A benchmark
// that logs prints its name, then its log lines, then its figures on a line
// of their own: such a line is joined to the name before it.
func parse(pkg string, r io.Reader) []result {
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pending := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if res, ok := parseLine(pkg, line); ok {
			out = append(out, res)
			pending = ""
			continue
		}
		if f := strings.Fields(line); len(f) == 1 && strings.HasPrefix(f[0], "Benchmark") {
			pending = f[0]
			continue
		}
		if pending != "" {
			if res, ok := parseLine(pkg, pending+" "+line); ok {
				out = append(out, res)
				pending = ""
			}
		}
	}
	return out
}

// normUnit spells a unit in ASCII: "p99-µs" (the bench contract's spelling)
// and "p99-us" (BenchmarkMessages' older one) are the same metric.
func normUnit(u string) string {
	return strings.NewReplacer("µ", "u", "μ", "u").Replace(u)
}

// profileName is the file name (without extension) an end-to-end
// benchmark named name writes its CPU profile and latency CSV under: every
// byte outside [A-Za-z0-9._%=-] becomes '_'. It is the same rule as
// bench/internal/transports.ProfileName (the report keeps its own copy, so
// it builds without that package's flags).
func profileName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("._%=-", c) >= 0:
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
