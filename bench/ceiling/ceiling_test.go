package ceiling

import (
	"crypto/cipher"
	"strings"
	"testing"

	"github.com/petrel-transport/petrel/bench/internal/transports"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests, but for
// those that live for the whole process (transports.ProcessGoroutines: this
// package imports transports for its profile flag).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, transports.ProcessGoroutines...) }

// aeadFor returns the named cipher keyed with key (repeated to its size).
func aeadFor(t testing.TB, i int, key byte) cipher.AEAD {
	k := make([]byte, ciphers[i].key)
	for j := range k {
		k[j] = key
	}
	a, err := ciphers[i].new(k)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// BenchmarkCeiling: b.N packets sealed on one goroutine and opened on
// another (pipe.run); MB/s (b.SetBytes) is plaintext. With
// -petrel.cpuprofile a CPU profile of the timed part is written.
func BenchmarkCeiling(b *testing.B) {
	for i, c := range ciphers {
		b.Run(c.name, func(b *testing.B) {
			a := aeadFor(b, i, 1)
			p := newPipe(a, a)
			if err := p.run(batches * batchSize); err != nil { // warm-up
				b.Fatal(err)
			}
			b.SetBytes(packetSize)
			b.ReportAllocs()
			stop := transports.StartCPUProfile(b)
			b.ResetTimer()
			err := p.run(b.N)
			b.StopTimer()
			stop()
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestPipeline: every cipher's pipeline opens what it sealed, over several
// batches and a partial last one, twice on the same pipe (batches go back
// into circulation); with the opener's key different from the sealer's,
// the first packet fails to open and the run reports it.
func TestPipeline(t *testing.T) {
	for i, c := range ciphers {
		t.Run(c.name, func(t *testing.T) {
			a := aeadFor(t, i, 1)
			p := newPipe(a, a)
			for range 2 {
				if err := p.run(3*batches*batchSize + 5); err != nil {
					t.Fatal(err)
				}
			}
			bad := newPipe(a, aeadFor(t, i, 2))
			err := bad.run(2 * batches * batchSize)
			if err == nil || !strings.Contains(err.Error(), "open packet 0") {
				t.Fatalf("run with the wrong key: %v, want packet 0 failing to open", err)
			}
			if err := bad.run(10); err == nil {
				t.Fatal("second run with the wrong key succeeded")
			}
		})
	}
}

// TestAllocs: a run allocates nothing per packet (a few allocations per
// run, its channels and goroutine, whatever its length).
func TestAllocs(t *testing.T) {
	a := aeadFor(t, 0, 1)
	p := newPipe(a, a)
	short := testing.AllocsPerRun(5, func() { _ = p.run(batchSize) })
	long := testing.AllocsPerRun(5, func() { _ = p.run(20 * batches * batchSize) })
	if long > short {
		t.Fatalf("%v allocations for a run of %d packets, %v for %d: a run allocates per packet", long, 20*batches*batchSize, short, batchSize)
	}
}
