package tracker

import (
	"errors"
	"strings"
	"testing"
)

// The operations that can act on one lost packet and its retransmission,
// by letter:
//
//	L loss:       DueForResend declares the packet lost (if in flight)
//	R retransmit: Retransmit(old, new): its data under a new packet number
//	D drop:       DropStream of its stream (both packets are on it)
//	A ack old:    OnAck of the old packet number
//	N ack new:    OnAck of the new packet number
//	X abandon:    Abandon of the old packet number
const orderOps = "LRDANX"

// permutations returns every ordering of the letters of s.
func permutations(s string) []string {
	if len(s) <= 1 {
		return []string{s}
	}
	var out []string
	for i := range s {
		for _, rest := range permutations(s[:i] + s[i+1:]) {
			out = append(out, s[i:i+1]+rest)
		}
	}
	return out
}

// TestEveryOrdering runs every ordering of loss / retransmit / DropStream /
// ACK of the old packet number / ACK of the new one / abandon against the
// obvious sequential model: the old packet's 100 bytes leave the flight
// once, at the first of L, D, A, X; the new packet exists only if R ran
// while the old one was Lost, and its 60 bytes leave once, at the first of
// D, N; R fails (and sends nothing) once the old packet was acked,
// dropped, abandoned or is still in flight; an ACK of the old packet after
// its loss is reported once as spurious; nothing comes back.
func TestEveryOrdering(t *testing.T) {
	perms := permutations(orderOps)
	if len(perms) != 720 {
		t.Fatalf("%d permutations, want 720", len(perms))
	}
	for _, order := range perms {
		t.Run(order, func(t *testing.T) { runOrdering(t, order) })
	}
}

// oldState is the model of the old packet.
type oldState uint8

const (
	oldInFlight oldState = iota
	oldLost
	oldRetransmitted
	oldGone // acked, dropped or abandoned
)

func runOrdering(t *testing.T, order string) {
	const (
		oldPN, newPN         = 0, 10
		oldSize, newSize     = 100, 60
		frontier, frontierSz = 20, 1
	)
	r := newRig(t, Config{})
	r.send(t, oldPN, 1, oldSize, ms)
	for pn := uint64(1); pn <= 3; pn++ {
		r.send(t, pn, 2, 10, ms)
	}
	r.send(t, frontier, Control, frontierSz, ms) // newPN lies below the frontier: acking it is legal
	r.ack(t, 2*ms, rng(1, 3))                    // the old packet is now lost (packet threshold)

	old, newInFlight, newSent, spuriousSeen := oldInFlight, false, false, false
	var oldReleased, newReleased uint64
	now := 3 * ms
	for i, op := range order {
		switch op {
		case 'L':
			got, res := r.t.DueForResend(nil, now, rtt10)
			want := old == oldInFlight
			if (len(got) == 1) != want || (want && (got[0].PN != oldPN || got[0].Stream != 1 || res.LostBytes != oldSize)) {
				t.Fatalf("step %d L: handed out %+v, %+v; want the old packet: %v", i, got, res, want)
			}
			if want {
				old = oldLost
				oldReleased += res.LostBytes
			}
		case 'R':
			err := r.retransmit(oldPN, newPN, newSize, now)
			var want error
			switch old {
			case oldInFlight, oldRetransmitted:
				want = ErrNotLost
			case oldGone:
				want = errGone
			}
			if want == errGone {
				if !errors.Is(err, ErrAcked) && !errors.Is(err, ErrDropped) && !errors.Is(err, ErrAbandoned) {
					t.Fatalf("step %d R: Retransmit of a resolved packet = %v", i, err)
				}
			} else if !errors.Is(err, want) {
				t.Fatalf("step %d R: Retransmit = %v, want %v", i, err, want)
			}
			if err == nil {
				old, newInFlight, newSent = oldRetransmitted, true, true
			}
		case 'D':
			n := r.t.DropStream(1)
			var want uint64
			if old == oldInFlight {
				want += oldSize
				oldReleased += oldSize
			}
			if newInFlight {
				want += newSize
				newReleased += newSize
			}
			if old == oldInFlight || old == oldLost {
				old = oldGone
			}
			newInFlight = false
			if n != want {
				t.Fatalf("step %d D: released %d, want %d", i, n, want)
			}
		case 'A':
			res := r.ack(t, now, rng(oldPN, oldPN))
			var wantBytes uint64
			wantSpurious := 0
			switch old {
			case oldInFlight:
				wantBytes = oldSize
				oldReleased += oldSize
				old = oldGone
			case oldLost:
				wantSpurious = 1
				old = oldGone
			case oldRetransmitted:
				if !spuriousSeen {
					wantSpurious = 1
				}
			}
			if wantSpurious == 1 {
				spuriousSeen = true
			}
			if res.AckedBytes != wantBytes || res.Spurious != wantSpurious || (res.Spurious == 1 && res.SpuriousBytes != oldSize) {
				t.Fatalf("step %d A: %+v, want %d bytes released, %d spurious", i, res, wantBytes, wantSpurious)
			}
			if newly := wantBytes > 0 || wantSpurious > 0; res.RTTValid != newly {
				t.Fatalf("step %d A: RTTValid %v, want %v (each packet number is one transmission)", i, res.RTTValid, newly)
			}
		case 'N':
			res := r.ack(t, now, rng(newPN, newPN))
			var want uint64
			if newInFlight {
				want = newSize
				newReleased += newSize
			}
			newInFlight = false
			if res.AckedBytes != want || res.Spurious != 0 {
				t.Fatalf("step %d N: %+v, want %d released", i, res, want)
			}
		case 'X':
			n := r.t.Abandon(oldPN)
			var want uint64
			if old == oldInFlight {
				want = oldSize
				oldReleased += oldSize
			}
			if old == oldInFlight || old == oldLost {
				old = oldGone
			}
			if n != want {
				t.Fatalf("step %d X: released %d, want %d", i, n, want)
			}
		}
		if got := r.t.InFlight(oldPN); got != (old == oldInFlight) {
			t.Fatalf("step %d %c: InFlight(old) = %v, model %v", i, op, got, old == oldInFlight)
		}
		if got := r.t.InFlight(newPN); got != newInFlight {
			t.Fatalf("step %d %c: InFlight(new) = %v, model %v", i, op, got, newInFlight)
		}
		if got, want := r.t.phaseOf(oldPN) == phaseLost, old == oldLost; got != want {
			t.Fatalf("step %d %c: old packet Lost = %v, model %v", i, op, got, want)
		}
		r.checkBooks(t)
		now += ms
	}
	// Exactly once: the old packet's bytes left once (by L, D, A or X; all
	// six run, so it did leave), the new one's once if it was sent and
	// resolved.
	if oldReleased != oldSize {
		t.Fatalf("old packet released %d in total, want exactly %d", oldReleased, oldSize)
	}
	if newSent && !newInFlight && newReleased != newSize || !newSent && newReleased != 0 {
		t.Fatalf("new packet (sent %v) released %d", newSent, newReleased)
	}
	// Nothing resurrects the old packet: a Retransmit now fails unless it
	// is still Lost (its loss came after the retransmit attempt).
	err := r.retransmit(oldPN, 30, newSize, now)
	if (err == nil) != (old == oldLost) {
		t.Fatalf("late Retransmit of the old packet (model %d) = %v", old, err)
	}
	if err == nil {
		r.t.Abandon(30)
	}
	r.t.Abandon(oldPN)
	got, _ := r.t.DueForResend(nil, now+1000*ms, rtt10)
	for _, g := range got {
		if g.PN == oldPN || g.PN == newPN && !newInFlight {
			t.Fatalf("resolved packet handed out: %+v", got)
		}
		r.t.Abandon(g.PN)
	}
	r.checkBooks(t)
}

// errGone stands for "ErrAcked, ErrDropped or ErrAbandoned" in the model.
var errGone = errors.New("resolved")

// TestResendThenDropNoResurrection is the named scenario, spelled
// out: the packet is declared lost, DropStream drops it (releasing
// nothing: its bytes left at the loss), Retransmit fails, no new packet is
// tracked, and a later ACK and a later abandon each release 0.
func TestResendThenDropNoResurrection(t *testing.T) {
	if !strings.Contains(strings.Join(permutations(orderOps), " "), "LDRANX") {
		t.Fatal("scenario not among the permutations")
	}
	runOrdering(t, "LDRANX")
}
