package main

import "testing"

func TestPlanFor(t *testing.T) {
	for pkg, want := range map[string]plan{
		modulePath + "/tracker":        {5, "1s", "1x"},
		modulePath + "/core":           {5, "1s", "1x"},
		modulePath + "/core/wire":      {5, "1s", "100ms"},
		modulePath + "/congestion":     {5, "1s", "100ms"},
		modulePath + "/bench/transfer": {3, "1s", "1x"},
		modulePath + "/bench/messages": {3, "1s", "100ms"},
		modulePath + "/bench/peers":    {3, "1s", "1x"},
	} {
		if got := planFor(pkg); got != want {
			t.Errorf("planFor(%s) = %+v, want %+v", pkg, got, want)
		}
	}
	if !isE2E(modulePath+"/bench/transfer") || isE2E(modulePath+"/core") || isE2E(modulePath+"/benchmarks") {
		t.Error("isE2E")
	}
}
