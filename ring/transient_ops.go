package ring

import (
	"math"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// The four transitions of a peer's Slot. Each runs under the slot's mutex,
// changes the budget by at most one unit, and calls its hook after unlocking:
//
//	None, Expired --TryReserve--> Transient     (acquire a unit, arm TTL)
//	Transient     --Promote-----> Established   (release, cancel TTL, join set)
//	Transient     --TTL---------> Expired       (release)
//	Transient     --Drop--------> None          (release, cancel TTL)
//	Established   --Drop--------> None          (leave set)
//	Expired       --Drop--------> None

// TryReserve admits the peer of s as transient at loc, its TTL counted from
// now, and reports whether the peer holds a reservation after the call:
//   - StateNone or StateExpired: takes one unit of budget and arms the TTL
//     timer; false, changing nothing, if the budget is exhausted.
//   - StateTransient (a duplicate): true; the existing reservation is kept
//     as it is (same location, same deadline) and no budget is taken.
//   - StateEstablished: false; an established peer needs no reservation.
//
// It allocates nothing.
func (m *TransientManager[K]) TryReserve(s *Slot[K], loc Location, now monotime.Time) bool {
	m.bound(s)
	s.mu.Lock()
	switch s.State() {
	case StateTransient:
		s.mu.Unlock()
		m.duplicate.Add(1)
		return true
	case StateEstablished:
		s.mu.Unlock()
		m.rejected.Add(1)
		return false
	}
	if !m.acquire() {
		s.mu.Unlock()
		m.rejected.Add(1)
		return false
	}
	s.loc = loc
	s.deadline = deadlineAfter(now, m.ttl)
	s.setLocked(StateTransient)
	// Reset, not Add: an arming whose callback lost to a Promote or Drop may
	// still be recorded as fired; the new arming is independent of it.
	m.wheel.Reset(&s.timer, s.deadline)
	s.mu.Unlock()
	m.reserved.Add(1)
	if h := m.hooks.Reserve; h != nil {
		h(s.key, loc)
	}
	return true
}

// Promote moves the transient peer of s into the Established set at loc,
// returning its unit of budget and cancelling its TTL. Errors (match with
// errors.Is), each leaving the state unchanged:
//   - ErrNotTransient: the peer holds no reservation (StateNone).
//   - ErrExpired: the reservation ran out first (StateExpired).
//   - ErrEstablishedFull: the set is at Max; the peer stays transient with
//     its TTL running, so the caller may retry or Drop it.
//
// A second Promote of an established peer is idempotent: it returns nil and
// changes nothing (the peer keeps the location of its first promotion; use
// Established().Add to move it). It allocates nothing in steady state.
//
// A successful Promote takes two steps, both under the peer's lock: the
// peer joins the set, then its unit returns to the budget. Between them a
// concurrent Promote may find the set full while a TryReserve still finds
// the budget spent: the budget can refuse early, never admit too many. (The
// other order would let a reservation take a unit before a join that may
// still fail.)
func (m *TransientManager[K]) Promote(s *Slot[K], loc Location) error {
	m.bound(s)
	s.mu.Lock()
	var err error
	switch s.State() {
	case StateEstablished:
		s.mu.Unlock()
		return nil
	case StateNone:
		err = ErrNotTransient
	case StateExpired:
		err = ErrExpired
	case StateTransient:
		err = m.est.Add(s.key, loc)
	}
	if err != nil {
		s.mu.Unlock()
		m.promoteFail.Add(1)
		return err
	}
	m.wheel.Cancel(&s.timer) // if it lost to a firing, onExpire sees Established and does nothing
	s.loc = loc
	s.setLocked(StateEstablished)
	m.release()
	s.mu.Unlock()
	m.promoted.Add(1)
	if h := m.hooks.Promote; h != nil {
		h(s.key, loc)
	}
	return nil
}

// Drop ends whatever the peer of s holds and returns it to StateNone: a
// transient peer returns its unit of budget and its TTL is cancelled; an
// established peer leaves the Established set; an expired mark is cleared.
// It returns the state the peer left. Drop is idempotent (a second call
// returns StateNone) and allocates nothing.
func (m *TransientManager[K]) Drop(s *Slot[K]) State {
	m.bound(s)
	s.mu.Lock()
	from := s.State()
	switch from {
	case StateNone:
		s.mu.Unlock()
		return from
	case StateTransient:
		m.wheel.Cancel(&s.timer)
		m.release()
	case StateEstablished:
		m.est.Remove(s.key)
	}
	s.setLocked(StateNone)
	s.mu.Unlock()
	if from == StateExpired {
		return from
	}
	m.dropped.Add(1)
	if h := m.hooks.Drop; h != nil {
		h(s.key, from)
	}
	return from
}

// onExpire is the TTL timer's callback, run by the wheel's Advance. The
// checks make a stale firing harmless: one whose reservation was promoted or
// dropped (state is no longer Transient) changes nothing, and one that
// arrives before the current reservation's deadline (a firing of an older
// arming that raced with the re-arm, or an Advance given an earlier now)
// only makes sure the timer is armed for the current deadline.
func (s *Slot[K]) onExpire(now monotime.Time) {
	m := s.m
	s.mu.Lock()
	if s.State() != StateTransient {
		s.mu.Unlock()
		return
	}
	if now < s.deadline {
		m.wheel.Add(&s.timer, s.deadline) // no-op if the newer arming is pending
		s.mu.Unlock()
		return
	}
	s.setLocked(StateExpired)
	m.release()
	s.mu.Unlock()
	m.expired.Add(1)
	if h := m.hooks.Expire; h != nil {
		h(s.key, now)
	}
}

// deadlineAfter returns now+ttl (ttl > 0), saturating at the last
// representable instant instead of wrapping into the past: a TTL of
// math.MaxInt64 means "practically never", not "at the next Advance".
func deadlineAfter(now monotime.Time, ttl time.Duration) monotime.Time {
	if d := now.Add(ttl); d >= now {
		return d
	}
	return math.MaxInt64
}
