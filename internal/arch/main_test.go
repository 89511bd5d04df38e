package arch

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (the import walk starts none; this keeps it so).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
