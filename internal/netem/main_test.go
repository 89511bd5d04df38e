package netem

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind. The
// package starts none; this keeps it that way.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
