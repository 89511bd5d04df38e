package congestion

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (the window waits of FlightSize.Reserve park goroutines; none may outlive its test).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
