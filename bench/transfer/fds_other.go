//go:build !unix

package transfer

// ensureFiles has no limit to raise here.
func ensureFiles(uint64) error { return nil }
