package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

func TestBucketOf(t *testing.T) {
	for fn, want := range map[string]string{
		"crypto/internal/fips140/aes/gcm.gcmAesEnc":                            bucketCrypto,
		"crypto/internal/fips140/aes.encryptBlockAsm":                          bucketCrypto,
		"crypto/cipher.(*gcmAsm).Seal":                                         bucketCrypto,
		"golang.org/x/crypto/chacha20poly1305.(*chacha20poly1305).sealGeneric": bucketCrypto,
		"golang.org/x/crypto/internal/poly1305.updateGeneric":                  bucketCrypto,
		"vendor/golang.org/x/crypto/chacha20.(*Cipher).XORKeyStream":           bucketCrypto,
		"syscall.Syscall6":                             bucketSyscall,
		"internal/runtime/syscall.Syscall6":            bucketSyscall,
		"internal/runtime/syscall/linux.Syscall6":      bucketSyscall, // the leaf of a real profile here (Go 1.26)
		"golang.org/x/sys/unix.Syscall6":               bucketSyscall,
		"runtime.entersyscall":                         bucketSyscall,
		"runtime.exitsyscall":                          bucketSyscall,
		"runtime.memmove":                              bucketCopy,
		"runtime.memclrNoHeapPointers":                 bucketCopy,
		"runtime.mallocgc":                             bucketGC,
		"runtime.mallocgcSmallNoscan":                  bucketGC,
		"runtime.scanobject":                           bucketGC,
		"runtime.gcDrain":                              bucketGC,
		"runtime.(*mspan).nextFreeIndex":               bucketGC,
		"runtime.futex":                                bucketSched,
		"runtime.findRunnable":                         bucketSched,
		"runtime.netpoll":                              bucketSched,
		"runtime.park_m":                               bucketSched,
		"runtime.aeshashbody":                          bucketSched, // the map hash's AES instructions are not the cipher
		"internal/runtime/maps.(*Map).getWithKeySmall": bucketSched,
		"github.com/petrel-transport/petrel/core/session.(*Session).pack":                     bucketPetrel,
		"github.com/petrel-transport/petrel/tracker.(*Tracker).Ack":                           bucketPetrel,
		"github.com/petrel-transport/petrel/bench/transfer.move":                              bucketOther,
		"github.com/petrel-transport/petrel/internal/netem.(*Queue[go.shape.[]uint8]).PopDue": bucketOther,
		"github.com/panjf2000/gnet/v2.(*eventloop).run":                                       bucketOther,
		"github.com/quic-go/quic-go.(*packetPacker).appendPacket":                             bucketOther,
		"sync.(*Mutex).Lock": bucketOther,
	} {
		if got := bucketOf(fn); got != want {
			t.Errorf("bucketOf(%q) = %s, want %s", fn, got, want)
		}
	}
}

// synthProfile is a CPU profile with flat nanoseconds per leaf function
// (the first function of each sample's location is the leaf; an inlined
// caller follows it on the same location).
func synthProfile(t *testing.T, flat map[string]int64) []byte {
	t.Helper()
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
	}
	caller := &profile.Function{ID: 1, Name: "main.caller"}
	p.Function = append(p.Function, caller)
	id := uint64(2)
	for name, ns := range flat {
		fn := &profile.Function{ID: id, Name: name}
		loc := &profile.Location{ID: id, Line: []profile.Line{{Function: fn}, {Function: caller}}}
		p.Function, p.Location = append(p.Function, fn), append(p.Location, loc)
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{loc}, Value: []int64{ns / 10_000_000, ns}})
		id++
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSummarizeProfile(t *testing.T) {
	raw := synthProfile(t, map[string]int64{
		"crypto/internal/fips140/aes/gcm.gcmAesEnc":                       400e6,
		"internal/runtime/syscall.Syscall6":                               300e6,
		"github.com/petrel-transport/petrel/core/session.(*Session).pack": 120e6,
		"github.com/petrel-transport/petrel/tracker.(*Tracker).Ack":       30e6,
		"runtime.memmove": 100e6,
		"runtime.futex":   50e6,
	})
	s, err := summarizeProfile(bytes.NewReader(raw), 3)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.Seconds-1) > 1e-9 {
		t.Errorf("sampled %v s, want 1", s.Seconds)
	}
	want := map[string]float64{bucketCrypto: 0.4, bucketSyscall: 0.3, bucketPetrel: 0.15, bucketCopy: 0.1, bucketSched: 0.05}
	for _, b := range bucketOrder {
		if math.Abs(s.Buckets[b]-want[b]) > 1e-9 {
			t.Errorf("bucket %s = %v, want %v", b, s.Buckets[b], want[b])
		}
	}
	if len(s.Top) != 3 || s.Top[0].Name != "crypto/internal/fips140/aes/gcm.gcmAesEnc" || s.Top[2].Fraction != 0.12 {
		t.Errorf("top: %+v", s.Top)
	}
	// Outside the kernel and the cipher, petrel's own code (15%) is the
	// largest: the next bottleneck, led by pack.
	if got := s.nextBottleneck(); !strings.HasPrefix(got, "petrel, 15.0% of CPU time (led by github.com/petrel-transport/petrel/core/session.(*Session).pack, 12.0%)") {
		t.Errorf("next bottleneck: %q", got)
	}
}

func TestSummarizeProfilesMissing(t *testing.T) {
	dir := t.TempDir()
	raw := synthProfile(t, map[string]int64{"runtime.memmove": 1e9})
	if err := os.WriteFile(filepath.Join(dir, profileName(profiled[0])+".pprof"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, profileName(profiled[1])+".pprof"), []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, missing := summarizeProfiles(dir)
	if len(ps) != 1 || ps[0].Bench != profiled[0] || ps[0].Buckets[bucketCopy] != 1 {
		t.Fatalf("summaries %+v", ps)
	}
	if len(missing) != len(profiled)-1 || !strings.HasPrefix(missing[0], profiled[1]+" (") {
		t.Errorf("missing %q", missing)
	}
	var b strings.Builder
	writeProfiles(&b, ps, missing, "how")
	for _, want := range []string{profiled[0] + " | 1.00 | 0.0% | 0.0% | 100.0%", "next bottleneck (largest bucket outside syscalls and crypto): copying, 100.0%", "`runtime.memmove`", "not measured in this run: " + missing[0]} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
}
