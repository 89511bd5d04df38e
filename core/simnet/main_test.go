package simnet_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (DESIGN.md,
// invariant 7: shutdown is total).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
