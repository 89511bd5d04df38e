package core_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests; tests that
// start goroutines also check with goleak.VerifyNone themselves, so a leak is
// blamed on the test that caused it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
