package secure

import "sync/atomic"

// AmplificationFactor bounds what an endpoint sends to an address it has not
// validated: at most three times the bytes it received from it (RFC 9000
// section 8.1), so a spoofed source cannot turn the node into an amplifier.
const AmplificationFactor = 3

// Amplification counts the bytes received from and sent to one address
// until the address is validated (a valid retry cookie, or a packet that
// proves the peer holds the handshake's keys). The zero value is an
// unvalidated address with nothing received. Safe for concurrent use.
//
// Guard map: all fields atomic; sent only grows through the compare-and-swap
// in TrySend, which checks the bound and adds in one step.
type Amplification struct {
	received  atomic.Int64
	sent      atomic.Int64
	validated atomic.Bool
}

// OnReceive counts n bytes received from the address.
func (a *Amplification) OnReceive(n int) { a.received.Add(int64(n)) }

// TrySend reports whether n more bytes may be sent, and if so counts them:
// always once validated, else only while the total sent stays within
// AmplificationFactor times the total received.
func (a *Amplification) TrySend(n int) bool {
	for {
		sent := a.sent.Load()
		if !a.validated.Load() && sent+int64(n) > AmplificationFactor*a.received.Load() {
			return false
		}
		if a.sent.CompareAndSwap(sent, sent+int64(n)) {
			return true
		}
	}
}

// Validate lifts the limit for good.
func (a *Amplification) Validate() { a.validated.Store(true) }

// Validated reports whether the address was validated.
func (a *Amplification) Validated() bool { return a.validated.Load() }

// Counts returns the bytes received and sent so far.
func (a *Amplification) Counts() (received, sent int64) {
	return a.received.Load(), a.sent.Load()
}
