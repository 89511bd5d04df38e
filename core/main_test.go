package core_test

import (
	"testing"

	"go.uber.org/goleak"
)

// leakOpts ignore the two goroutines gnet's worker pool (ants) starts when
// its package loads: they live for the whole process, whatever a test does.
var leakOpts = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

// TestMain fails the package if any goroutine outlives the tests; tests that
// start goroutines also check with goleak.VerifyNone themselves, so a leak is
// blamed on the test that caused it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakOpts...) }
