package wire

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (the
// codec starts none; this keeps it so).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
