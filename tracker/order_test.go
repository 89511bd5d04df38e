package tracker

import (
	"strings"
	"testing"
)

// The operations that can act on one packet, by letter:
//
//	R resend:  DueForResend hands the packet out (it is lost)
//	D drop:    DropStream of its stream
//	F refresh: Refresh with the generation R handed out (0 if none yet)
//	A ack:     OnAck of its packet number
//	X abandon: Abandon
const orderOps = "RDFAX"

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

// TestEveryOrdering runs every ordering of resend / DropStream / Refresh /
// ACK / abandon on one packet against the obvious sequential model: the
// first of D, A, X releases the packet's bytes, everything after it
// releases 0, a refresh succeeds only while the packet is in flight with
// the handed-out generation, a resend is handed out only while it is in
// flight and lost, and nothing brings the packet back.
func TestEveryOrdering(t *testing.T) {
	perms := permutations(orderOps)
	if len(perms) != 120 {
		t.Fatalf("%d permutations, want 120", len(perms))
	}
	for _, order := range perms {
		t.Run(order, func(t *testing.T) { runOrdering(t, order) })
	}
}

func runOrdering(t *testing.T, order string) {
	const pkt, size = 0, 100
	r := newRig(t, Config{})
	r.send(t, pkt, 1, size, ms)
	for pn := uint64(1); pn <= 3; pn++ {
		r.send(t, pn, 2, 10, ms)
	}
	r.ack(t, 2*ms, rng(1, 3)) // packet 0 is now lost (packet threshold)

	inFlight, gen := true, Generation(0)
	handedGen := Generation(0)
	var released uint64
	now := 3 * ms
	for i, op := range order {
		switch op {
		case 'R':
			got, _ := r.t.DueForResend(nil, now, rtt10)
			// A refreshed copy is newer than every ack: not lost any more.
			want := inFlight && gen == 0
			if (len(got) == 1) != want || (want && (got[0].PN != pkt || got[0].Gen != gen)) {
				t.Fatalf("step %d R: handed out %+v, want packet: %v", i, got, want)
			}
			if want {
				handedGen = got[0].Gen
			}
		case 'D':
			n := r.t.DropStream(1)
			released += n
			if want := expectRelease(&inFlight, size); n != want {
				t.Fatalf("step %d D: released %d, want %d", i, n, want)
			}
		case 'F':
			ok := r.t.Refresh(pkt, handedGen, now)
			want := inFlight && handedGen == gen
			if ok != want {
				t.Fatalf("step %d F: Refresh = %v, want %v", i, ok, want)
			}
			if ok {
				gen++
			}
		case 'A':
			res := r.ack(t, now, rng(pkt, pkt))
			released += res.AckedBytes
			if want := expectRelease(&inFlight, size); res.AckedBytes != want {
				t.Fatalf("step %d A: released %d, want %d", i, res.AckedBytes, want)
			}
		case 'X':
			n := r.t.Abandon(pkt)
			released += n
			if want := expectRelease(&inFlight, size); n != want {
				t.Fatalf("step %d X: released %d, want %d", i, n, want)
			}
		}
		if r.t.InFlight(pkt) != inFlight {
			t.Fatalf("step %d %c: InFlight = %v, want %v", i, op, !inFlight, inFlight)
		}
		r.checkBooks(t)
		now += ms
	}
	if released != size {
		t.Fatalf("released %d in total, want exactly %d", released, size)
	}
	// Nothing resurrects it.
	if r.t.Refresh(pkt, gen, now) || r.t.Refresh(pkt, 0, now) || r.t.InFlight(pkt) {
		t.Fatal("packet came back after leaving flight")
	}
	if got, _ := r.t.DueForResend(nil, now+1000*ms, rtt10); len(got) != 0 {
		t.Fatalf("resolved packet handed out: %+v", got)
	}
	if r.fl.Load() != 0 {
		t.Fatalf("flight %d, want 0", r.fl.Load())
	}
}

// expectRelease is the model: the first release takes the packet out.
func expectRelease(inFlight *bool, size uint64) uint64 {
	if !*inFlight {
		return 0
	}
	*inFlight = false
	return size
}

// TestResendThenDropNoResurrection is the named scenario, spelled
// out: a resend is handed out, DropStream releases the packet, Refresh
// returns false, the packet is not tracked, and a later ACK and a later
// abandon each release 0.
func TestResendThenDropNoResurrection(t *testing.T) {
	if !strings.Contains(strings.Join(permutations(orderOps), " "), "RDFAX") {
		t.Fatal("scenario not among the permutations")
	}
	runOrdering(t, "RDFAX")
}
