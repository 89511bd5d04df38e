package secure_test

import (
	"testing"

	"github.com/petrel-transport/petrel/core/secure"
)

// BenchmarkHandshake measures complete handshakes, both sides in one
// goroutine: initiation, responder's read and accept, initiator's
// completion, confirmation. /cookie adds the retry-cookie round trip
// (CookieAlways). The cost is four X25519 operations per side (Noise IK:
// e, es, s, ss, ee, se), so the figure is the curve's.
func BenchmarkHandshake(b *testing.B) {
	for _, tc := range []struct {
		name string
		mode secure.CookieMode
	}{{"direct", secure.CookieNever}, {"cookie", secure.CookieAlways}} {
		b.Run(tc.name, func(b *testing.B) {
			ikp, rkp := keyPair(b, "i"), keyPair(b, "r")
			budget := secure.NewBudget(1)
			r := newResponder(b, &rkp, func(c *secure.ResponderConfig) {
				c.CookieMode = tc.mode
				c.Admission = budget
			})
			stamper := new(secure.Stamper)
			from := addr(1)
			b.ReportAllocs()
			for b.Loop() {
				ini, err := secure.NewInitiator(secure.InitiatorConfig{Static: &ikp, Peer: rkp.Public, Payload: []byte("transport parameters"), Stamper: stamper})
				if err != nil {
					b.Fatal(err)
				}
				o := complete(b, r, ini, from, t0)
				if !o.pending.Confirm() {
					b.Fatal("not confirmed")
				}
				budget.Release(o.rk.Peer) // the connection ends
				o.ik.Zero()
				o.rk.Zero()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}
