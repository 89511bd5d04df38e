package transports

import "go.uber.org/goleak"

// ProcessGoroutines are the goroutines that live for the whole process,
// whatever a benchmark does, for goleak to ignore: the two gnet's worker
// pool (ants) starts when its package loads.
var ProcessGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}
