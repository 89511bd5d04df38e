package monotime

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (the clock starts none; this keeps it so).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
