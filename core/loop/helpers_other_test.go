//go:build !linux

package loop

import (
	"testing"

	"github.com/petrel-transport/petrel/batchio"
)

func dupGnetFDs(t *testing.T, d driver) []int { t.Skip("no gnet driver here"); return nil }

func gnetSockStats(d driver) []batchio.Stats { return nil }
