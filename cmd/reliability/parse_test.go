package main

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	out := []byte(`=== RUN   TestSim
    sim_test.go:66: RELIABILITY sim seeds=4 bytes_moved=123 violations=0
RELIABILITY storm reason.BadHeader=871 flag
RELIABILITY
some RELIABILITYnot a marker
RELIABILITY storm reason.BadHeader=1 reason.BadHeader=2
--- PASS: TestSim (1.00s)
`)
	got := parse(out)
	want := []Record{
		{Section: "sim", Keys: []string{"seeds", "bytes_moved", "violations"}, Values: map[string]string{"seeds": "4", "bytes_moved": "123", "violations": "0"}},
		{Section: "storm", Keys: []string{"reason.BadHeader", "flag"}, Values: map[string]string{"reason.BadHeader": "871", "flag": ""}},
		{Section: "storm", Keys: []string{"reason.BadHeader"}, Values: map[string]string{"reason.BadHeader": "2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parse:\n got %+v\nwant %+v", got, want)
	}
}
