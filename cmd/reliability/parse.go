package main

import (
	"bufio"
	"bytes"
	"strings"
)

// marker starts a figure line. Tests print it with t.Logf (which prefixes
// the file and line) or fmt.Printf, so it is searched for anywhere in a
// line.
const marker = "RELIABILITY "

// Record is one RELIABILITY line: its section and its key=value pairs in
// the order printed.
type Record struct {
	Section string
	Keys    []string
	Values  map[string]string
}

// parse returns the RELIABILITY lines of a test's output. A field without
// '=' is kept as a key with an empty value; a line with no section is
// skipped.
func parse(out []byte) []Record {
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, marker)
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len(marker):])
		if len(f) == 0 {
			continue
		}
		r := Record{Section: f[0], Values: map[string]string{}}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := r.Values[k]; !dup {
				r.Keys = append(r.Keys, k)
			}
			r.Values[k] = v
		}
		recs = append(recs, r)
	}
	return recs
}
