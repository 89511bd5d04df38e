package secure_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
	"github.com/petrel-transport/petrel/ring"
)

// transientAdmission admits handshakes through ring's TransientManager, as
// core does with the Slot embedded in its one entry per peer. It records the
// highest transient count it ever saw right after an admission.
type transientAdmission struct {
	m     *ring.TransientManager[secure.PublicKey]
	mu    sync.Mutex // guards slots
	slots map[secure.PublicKey]*ring.Slot[secure.PublicKey]
	peak  atomic.Int64
}

func newTransientAdmission(t *testing.T, budget int) (*transientAdmission, *wheel.Wheel) {
	t.Helper()
	w, err := wheel.New(t0, wheel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ring.NewTransientManager(ring.TransientConfig[secure.PublicKey]{Wheel: w, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	return &transientAdmission{m: m, slots: map[secure.PublicKey]*ring.Slot[secure.PublicKey]{}}, w
}

func (a *transientAdmission) slot(peer secure.PublicKey) *ring.Slot[secure.PublicKey] {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.slots[peer]
	if s == nil {
		s = new(ring.Slot[secure.PublicKey])
		a.m.InitSlot(s, peer)
		a.slots[peer] = s
	}
	return s
}

func (a *transientAdmission) Admit(peer secure.PublicKey, now monotime.Time) bool {
	ok := a.m.TryReserve(a.slot(peer), 0, now)
	if n := int64(a.m.Count()); ok && n > a.peak.Load() {
		a.peak.Store(n) // racy max is fine: Count never exceeds the budget anyway
	}
	return ok
}

func (a *transientAdmission) Release(peer secure.PublicKey) { a.m.Drop(a.slot(peer)) }

// A flood of authenticated initiations from many keys and addresses never
// holds more handshake state than the transient budget; refused initiators
// learn why; accepted handshakes that are never confirmed time out on the
// wheel and give their budget back.
func TestFloodBoundedByTransientBudget(t *testing.T) {
	const budget, flood = 16, 100
	adm, w := newTransientAdmission(t, budget)
	rkp := keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) {
		c.CookieMode = secure.CookieNever
		c.Admission = adm
	})
	timers := make([]wheel.Timer, 0, budget)
	busy := 0
	for i := range flood {
		ikp := keyPair(t, fmt.Sprint("flood", i))
		ini := newInitiator(t, &ikp, rkp.Public, nil)
		msg, _ := ini.Initiation(nil, wall0, t0)
		res, err := r.ReadInitiation(nil, msg, addr(i), t0)
		switch {
		case errors.Is(err, secure.ErrOverBudget):
			_, _, err := ini.HandleResponse(res.Reply)
			var re *secure.RefusedError
			if !errors.As(err, &re) || re.Reason != secure.RefuseBusy {
				t.Fatalf("refusal over budget: %v", err)
			}
			busy++
		case err != nil:
			t.Fatal(err)
		default:
			_, _, p, err := res.Incoming.Accept(nil, nil, t0)
			if err != nil {
				t.Fatal(err)
			}
			timers = append(timers, wheel.Timer{})
			tm := &timers[len(timers)-1]
			tm.Init(w, func(monotime.Time) { p.Fail() })
			w.Add(tm, p.Deadline())
		}
		if r.Pending() > budget || adm.m.Count() > budget {
			t.Fatalf("after %d initiations: %d pending, %d transient, budget %d", i+1, r.Pending(), adm.m.Count(), budget)
		}
	}
	if len(timers) != budget || busy != flood-budget {
		t.Fatalf("accepted %d, refused %d", len(timers), busy)
	}
	w.Advance(t0.Add(secure.DefaultHandshakeTimeout + 10*time.Millisecond))
	if r.Pending() != 0 || adm.m.Count() != 0 {
		t.Fatalf("after the handshake timeout: %d pending, %d transient", r.Pending(), adm.m.Count())
	}
	if st := r.Stats(); st.Failed != budget || st.OverBudget != flood-budget || st.Refused != flood-budget {
		t.Fatalf("stats %+v", st)
	}
	ikp := keyPair(t, "after the flood")
	o := complete(t, r, newInitiator(t, &ikp, rkp.Public, nil), addr(flood), t0.Add(time.Minute))
	if !o.pending.Confirm() || adm.m.Count() != 1 {
		t.Fatal("a legitimate peer after the flood must be admitted and keep its reservation")
	}
}

// Concurrent initiations from many keys: the budget holds at every instant
// (ring's invariant 6), every admission is released or handed over exactly
// once, and the pending count returns to zero.
func TestFloodConcurrent(t *testing.T) {
	const budget, workers, per = 8, 4, 30
	adm, _ := newTransientAdmission(t, budget)
	rkp := keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) {
		c.CookieMode = secure.CookieNever
		c.Admission = adm
	})
	var confirmed, failed, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range per {
				id := g*per + i
				ikp := keyPair(t, fmt.Sprint("c", id))
				ini := newInitiator(t, &ikp, rkp.Public, nil)
				msg, _ := ini.Initiation(nil, wall0, t0)
				res, err := r.ReadInitiation(nil, msg, addr(id), t0)
				if errors.Is(err, secure.ErrOverBudget) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				_, _, p, err := res.Incoming.Accept(nil, nil, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if id%3 == 0 {
					// Confirmed: the admission passes to the connection, which
					// drops it when it ends (here at once).
					if p.Confirm() {
						confirmed.Add(1)
					}
					adm.Release(p.Peer())
				} else if p.Fail() {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if peak := adm.peak.Load(); peak > budget {
		t.Fatalf("transient count reached %d, budget %d", peak, budget)
	}
	if r.Pending() != 0 || adm.m.Count() != 0 {
		t.Fatalf("at quiescence: %d pending, %d transient", r.Pending(), adm.m.Count())
	}
	total := confirmed.Load() + failed.Load() + refused.Load()
	if total != workers*per || confirmed.Load() == 0 || failed.Load() == 0 {
		t.Fatalf("confirmed %d failed %d refused %d", confirmed.Load(), failed.Load(), refused.Load())
	}
	if st := r.Stats(); st.Confirmed != uint64(confirmed.Load()) || st.Failed != uint64(failed.Load()) || st.OverBudget != uint64(refused.Load()) {
		t.Fatalf("stats %+v", st)
	}
}

// Confirm and Fail racing on one pending handshake: exactly one wins and
// the admission is released at most once (Budget panics on a double release).
func TestConfirmFailRace(t *testing.T) {
	rkp := keyPair(t, "r")
	b := secure.NewBudget(4)
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.Admission = b })
	for i := range 50 {
		ikp := keyPair(t, fmt.Sprint("race", i))
		o := complete(t, r, newInitiator(t, &ikp, rkp.Public, nil), addr(i), t0)
		var wins atomic.Int32
		var wg sync.WaitGroup
		wg.Go(func() {
			if o.pending.Confirm() {
				wins.Add(1)
				b.Release(o.pending.Peer()) // the connection ends
			}
		})
		wg.Go(func() {
			if o.pending.Fail() {
				wins.Add(1)
			}
		})
		wg.Wait()
		if wins.Load() != 1 || b.InUse() != 0 || r.Pending() != 0 {
			t.Fatalf("round %d: %d winners, %d in use, %d pending", i, wins.Load(), b.InUse(), r.Pending())
		}
	}
}
