package transports

import "go.uber.org/goleak"

// ProcessGoroutines are the goroutines that live for the whole process,
// whatever a benchmark does, for goleak to ignore: the two of gnet's worker
// pool (ants), which starts when its package loads, and kcp-go's
// scheduler shards (SystemTimedSched, timedsched.go) and post-processing
// workers (postprocess.go), started when it loads or on first use and
// shared by every session of the process.
var ProcessGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.(*TimedSched).run"),
	goleak.IgnoreAnyFunction("github.com/xtaci/kcp-go/v5.postProcessWorker"),
}

// Baseline returns goleak's options for a check at the end of one
// benchmark: ignore the goroutines running now (goleak.IgnoreCurrent) and
// those of the whole process (ProcessGoroutines), some of which start on
// first use, inside the benchmark. Call it at the benchmark's start:
// defer goleak.VerifyNone(b, transports.Baseline()...).
func Baseline() []goleak.Option {
	return append([]goleak.Option{goleak.IgnoreCurrent()}, ProcessGoroutines...)
}
