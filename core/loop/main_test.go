package loop

import (
	"testing"

	"go.uber.org/goleak"
)

// leakOpts ignores the two goroutines of the ants pool gnet's package
// creates at init (github.com/panjf2000/gnet/v2/pkg/pool/goroutine): they
// are process-wide and belong to no driver. Everything else must end.
var leakOpts = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

// Every test and benchmark must leave no goroutine behind (each test also
// checks on its own, so a leak names its test).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakOpts...) }
