package secure_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// The handshake state machine under a script: a fuzz input is a cookie
// mode and a list of operations, each one byte of opcode and one of
// argument, run against one responder and the dials of one initiator
// identity (a new Initiator per dial, sharing its Stamper as a node's do).
// Every datagram either side writes goes on a "wire" log; operations
// deliver any logged datagram, again and again (replays), from the genuine
// address or an attacker's, corrupt one, let time pass, confirm or time
// out a pending handshake. After every operation the invariants hold:
//
//   - nothing panics;
//   - the responder admits (returns an Incoming for) only an initiation an
//     initiator wrote, unchanged but for mac2, and each at most once: a
//     replayed initiation never establishes twice, and the timestamps it
//     admits from the identity strictly increase;
//   - an initiator completes only with a response the responder wrote to
//     its latest initiation, and then both sides hold the same keys
//     (Send/Recv crossed, the same channel binding): key confirmation;
//   - under CookieAlways nothing is admitted without a valid cookie (mac2
//     of a cookie reply, from the address the cookie was made for);
//   - state is bounded and exact: Pending() is the model's count of
//     unanswered Incomings and open Pendings, the budget's units in use
//     never exceed its limit and equal what the model holds, and a reply to
//     an unvalidated address is at most 3x the datagram it answers.

// Script opcodes (the byte modulo opCount).
const (
	opInitiate     = iota // the current dial writes a new initiation (a new dial if it completed)
	opToResponder         // deliver wire[arg] to the responder from the genuine address
	opToResponderX        // the same from the attacker's address
	opToInitiator         // deliver wire[arg] to the dial it names (cookie reply or response)
	opCorrupt             // log a copy of wire[arg] with one byte changed (the next op byte says which and how)
	opTick                // let arg*50 ms pass
	opConfirm             // the initiator's first packet arrives: confirm the pending handshake whose keys it holds
	opTimeout             // fail every pending handshake past its deadline
	opCount
)

// A logged datagram and who wrote it.
type wireMsg struct {
	b        []byte
	genuine  bool // written by an initiator or the responder, unchanged
	response bool // a response the responder wrote (Accept or a refusal)
}

type hsModel struct {
	t        *testing.T
	mode     secure.CookieMode
	r        *secure.Responder
	budget   *secure.Budget
	ikp      secure.KeyPair
	rpub     secure.PublicKey
	stamper  *secure.Stamper
	dials    []*hsDial
	wire     []wireMsg
	now      monotime.Time
	wall     time.Time
	admitted map[string]bool // initiation bodies (without mac2) admitted
	lastTS   secure.Timestamp
	pendings []*hsPending // accepted handshakes, open or not
	open     int          // Pendings neither confirmed nor failed
	held     int          // admissions the model holds: open Pendings + confirmed connections
}

type hsDial struct {
	ini        *secure.Initiator
	cid        secure.ConnID
	latest     []byte // body (without mac2) of its latest initiation
	done       bool
	keys       *secure.Keys
	responseOf map[string][]byte // response body (without mac2) -> initiation body it answers
}

type hsPending struct {
	p         *secure.Pending
	keys      *secure.Keys
	initBody  string
	confirmed bool
	failed    bool
}

var (
	genuineAddr  = netip.MustParseAddrPort("192.0.2.1:4000")
	attackerAddr = netip.MustParseAddrPort("198.51.100.7:666")
)

const hsBudget = 3

func newHSModel(t *testing.T, modeByte byte) *hsModel {
	m := &hsModel{
		t: t, now: t0, wall: wall0, admitted: map[string]bool{},
		ikp: keyPair(t, "script initiator"), stamper: new(secure.Stamper),
		budget: secure.NewBudget(hsBudget),
	}
	m.mode = []secure.CookieMode{secure.CookieNever, secure.CookieAlways, secure.CookieUnderLoad}[int(modeByte)%3]
	rkp := keyPair(t, "script responder")
	m.rpub = rkp.Public
	m.r = newResponder(t, &rkp, func(c *secure.ResponderConfig) {
		c.CookieMode = m.mode
		c.LoadThreshold = 1
		c.Admission = m.budget
		c.HandshakeTimeout = time.Second
		c.Rand = rand.NewChaCha8([32]byte{3})
	})
	return m
}

// dial returns the current dial, starting a new one when there is none or
// the last completed.
func (m *hsModel) dial() *hsDial {
	if n := len(m.dials); n > 0 && !m.dials[n-1].done {
		return m.dials[n-1]
	}
	cid := secure.ConnID{0xd1, byte(len(m.dials)), 3, 4, 5, 6, 7, 8}
	d := &hsDial{cid: cid, responseOf: map[string][]byte{}}
	d.ini = newInitiator(m.t, &m.ikp, m.rpub, func(c *secure.InitiatorConfig) {
		c.ConnID = cid
		c.Stamper = m.stamper
		c.Rand = rand.NewChaCha8([32]byte{4, byte(len(m.dials))})
	})
	m.dials = append(m.dials, d)
	return d
}

func body(b []byte) string { return string(b[:len(b)-16]) } // without mac2

func (m *hsModel) pick(arg byte) (wireMsg, bool) {
	if len(m.wire) == 0 {
		return wireMsg{}, false
	}
	return m.wire[int(arg)%len(m.wire)], true
}

func (m *hsModel) step(op, arg, extra byte) {
	t := m.t
	switch op % opCount {
	case opInitiate:
		d := m.dial()
		msg, err := d.ini.Initiation(nil, m.wall, m.now)
		if err != nil {
			t.Fatalf("Initiation: %v", err)
		}
		d.latest = msg[:len(msg)-16]
		m.wire = append(m.wire, wireMsg{b: msg, genuine: true})
	case opToResponder, opToResponderX:
		w, ok := m.pick(arg)
		if !ok {
			return
		}
		from := genuineAddr
		if op%opCount == opToResponderX {
			from = attackerAddr
		}
		m.toResponder(w, from, extra)
	case opToInitiator:
		w, ok := m.pick(arg)
		if !ok {
			return
		}
		m.toInitiator(w)
	case opCorrupt:
		w, ok := m.pick(arg)
		if !ok || len(w.b) == 0 {
			return
		}
		b := bytes.Clone(w.b)
		i := int(extra) * 7 % len(b)
		b[i] ^= 1 << (extra % 8)
		m.wire = append(m.wire, wireMsg{b: b})
	case opTick:
		d := time.Duration(arg) * 50 * time.Millisecond
		m.now, m.wall = m.now.Add(d), m.wall.Add(d)
	case opConfirm:
		m.confirm()
	case opTimeout:
		for _, p := range m.pendings {
			if !p.confirmed && !p.failed && !m.now.Before(p.p.Deadline()) {
				if !p.p.Fail() {
					t.Fatal("Fail of an open pending handshake reported false")
				}
				p.failed = true
				m.open--
				m.held--
			}
		}
	}
}

func (m *hsModel) toResponder(w wireMsg, from netip.AddrPort, how byte) {
	t := m.t
	res, err := m.r.ReadInitiation(nil, w.b, from, m.now)
	if len(res.Reply) > 0 {
		// Every reply goes on the wire: cookie replies, and the
		// authenticated refusals of initiations over the budget.
		if len(res.Reply) > secure.AmplificationFactor*len(w.b) {
			t.Fatalf("reply of %d bytes to %d", len(res.Reply), len(w.b))
		}
		if cid, ok := secure.DestConnID(res.Reply); ok && secure.IsResponse(res.Reply) {
			m.logResponse(res.Reply, body(w.b), cid)
		} else {
			m.wire = append(m.wire, wireMsg{b: res.Reply, genuine: true})
		}
	}
	if err != nil {
		if res.Incoming != nil {
			t.Fatalf("ReadInitiation failed (%v) and returned an Incoming", err)
		}
		if errors.Is(err, secure.ErrOverBudget) && m.budget.InUse() < hsBudget {
			t.Fatalf("refused as over budget with %d of %d units in use", m.budget.InUse(), hsBudget)
		}
		return
	}
	in := res.Incoming
	if in == nil {
		t.Fatal("ReadInitiation succeeded without an Incoming")
	}
	b := body(w.b)
	genuine := false // the body (header, connection id included) of an initiation a dial wrote
	for _, x := range m.wire {
		if x.genuine && !x.response && secure.IsInitiation(x.b) && body(x.b) == b {
			genuine = true
		}
	}
	switch {
	case !genuine:
		t.Fatalf("admitted an initiation no initiator wrote: %x", w.b)
	case m.admitted[b]:
		t.Fatal("admitted the same initiation twice (a replay established again)")
	case in.Peer != m.ikp.Public:
		t.Fatalf("admitted peer %v, want %v", in.Peer, m.ikp.Public)
	case m.lastTS != (secure.Timestamp{}) && !in.Timestamp.After(m.lastTS):
		t.Fatalf("admitted timestamp %x not after %x", in.Timestamp, m.lastTS)
	case m.mode == secure.CookieAlways && !in.Validated:
		t.Fatal("admitted without a cookie under CookieAlways")
	}
	if in.Validated && len(res.Reply) > 0 {
		t.Fatal("a reply besides the Incoming")
	}
	m.admitted[b], m.lastTS = true, in.Timestamp
	m.held++
	if how%4 == 3 { // refuse it
		resp, err := in.Refuse(nil, secure.RefuseBusy)
		if err != nil {
			t.Fatalf("Refuse: %v", err)
		}
		m.held--
		m.logResponse(resp, b, in.ConnID)
		return
	}
	resp, keys, p, err := in.Accept(nil, []byte("responder params"), m.now)
	if err != nil {
		if !errors.Is(err, secure.ErrAmplification) {
			t.Fatalf("Accept: %v", err)
		}
		m.held--
		return
	}
	if !in.Validated && len(resp) > secure.AmplificationFactor*len(w.b) {
		t.Fatalf("response of %d bytes to an unvalidated initiation of %d", len(resp), len(w.b))
	}
	m.pendings = append(m.pendings, &hsPending{p: p, keys: keys, initBody: b})
	m.open++
	m.logResponse(resp, b, in.ConnID)
}

func (m *hsModel) logResponse(resp []byte, initBody string, cid secure.ConnID) {
	for _, d := range m.dials {
		if d.cid == cid {
			d.responseOf[body(resp)] = []byte(initBody)
		}
	}
	m.wire = append(m.wire, wireMsg{b: resp, genuine: true, response: true})
}

func (m *hsModel) toInitiator(w wireMsg) {
	t := m.t
	cid, ok := secure.DestConnID(w.b)
	if !ok {
		return
	}
	var d *hsDial
	for _, x := range m.dials {
		if x.cid == cid {
			d = x
		}
	}
	if d == nil {
		return
	}
	if secure.IsCookieReply(w.b) {
		_ = d.ini.HandleCookieReply(w.b, m.now)
		return
	}
	keys, _, err := d.ini.HandleResponse(w.b)
	var refused *secure.RefusedError
	if err != nil && !errors.As(err, &refused) {
		return
	}
	// Completed (or refused, authenticated): only by a response the
	// responder wrote to this dial's latest initiation.
	if d.done {
		t.Fatal("a dial completed twice")
	}
	if len(w.b) < 16 {
		t.Fatalf("completed with a %d-byte message", len(w.b))
	}
	answered, ok := d.responseOf[body(w.b)]
	if !ok {
		t.Fatalf("dial completed (%v) with a response the responder did not write: %x", err, w.b)
	}
	if !bytes.Equal(answered, d.latest) {
		t.Fatal("dial completed with a response to an earlier initiation")
	}
	d.done = true
	if err != nil {
		return
	}
	d.keys = keys
	var match *hsPending
	for _, p := range m.pendings {
		if p.initBody == string(d.latest) {
			match = p
		}
	}
	if match == nil {
		t.Fatal("dial completed but the responder accepted no such initiation")
	}
	rk := match.keys
	if keys.Send != rk.Recv || keys.Recv != rk.Send || keys.ChannelBinding != rk.ChannelBinding || keys.Suite != rk.Suite ||
		!keys.Initiator || rk.Initiator || keys.Peer != m.rpub || rk.Peer != m.ikp.Public {
		t.Fatal("the two sides of a completed handshake hold different keys")
	}
}

// confirm delivers the initiator's first packet: the responder's pending
// handshake whose keys a completed dial holds is confirmed, once.
func (m *hsModel) confirm() {
	for _, d := range m.dials {
		if d.keys == nil {
			continue
		}
		for _, p := range m.pendings {
			if p.keys.ChannelBinding != d.keys.ChannelBinding {
				continue
			}
			ok := p.p.Confirm()
			if ok != (!p.confirmed && !p.failed) {
				m.t.Fatalf("Confirm = %v on a handshake confirmed %v, failed %v", ok, p.confirmed, p.failed)
			}
			if ok {
				p.confirmed = true
				m.open--
				// The connection takes over the admission and, in this
				// script, ends at once: its owner releases it.
				m.budget.Release(p.keys.Peer)
				m.held--
			}
		}
	}
}

// check asserts the bounds after every operation.
func (m *hsModel) check() {
	t := m.t
	if got := m.r.Pending(); got != m.open {
		t.Fatalf("responder reports %d pending handshakes, the model %d", got, m.open)
	}
	if st := m.r.Stats(); st.Pending != m.open || st.UnvalidatedOut > 3*st.UnvalidatedIn {
		t.Fatalf("stats %+v, model pending %d", st, m.open)
	}
	if u := m.budget.InUse(); u > hsBudget || u != m.held {
		t.Fatalf("budget: %d units in use (limit %d), the model holds %d", u, hsBudget, m.held)
	}
}

// FuzzHandshakeScript runs scripts of handshake operations; see above.
func FuzzHandshakeScript(f *testing.F) {
	for _, s := range handshakeScripts() {
		fuzzseed.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) < 1 || len(script) > 1+3*64 {
			return // 64 operations: longer scripts only slow minimization
		}
		m := newHSModel(t, script[0])
		ops := script[1:]
		for i := 0; i+1 < len(ops); i += 3 {
			extra := byte(0)
			if i+2 < len(ops) {
				extra = ops[i+2]
			}
			m.step(ops[i], ops[i+1], extra)
			m.check()
		}
	})
}

// handshakeScripts are meaningful scripts: a plain handshake, one through
// a cookie, replays of an initiation and of a response, retransmitted
// initiations answered out of order, corrupted messages, a timeout, a
// budget exhausted. Each is (mode, then op, arg, extra triples); wire
// indexes count the messages logged so far.
func handshakeScripts() [][]byte {
	s := func(mode byte, ops ...byte) []byte { return append([]byte{mode}, ops...) }
	return [][]byte{
		// Never: initiate (w0), deliver (w1 response), complete, confirm.
		s(0, opInitiate, 0, 0, opToResponder, 0, 0, opToInitiator, 1, 0, opConfirm, 0, 0, opConfirm, 0, 0),
		// Always: initiate (w0), cookie reply (w1), take it, initiate
		// again (w2), deliver (w3 response), complete, confirm.
		s(1, opInitiate, 0, 0, opToResponder, 0, 0, opToInitiator, 1, 0, opInitiate, 0, 0,
			opToResponder, 2, 0, opToInitiator, 3, 0, opConfirm, 0, 0),
		// Always: the cookie taken for one address, the initiation
		// replayed from another.
		s(1, opInitiate, 0, 0, opToResponder, 0, 0, opToInitiator, 1, 0, opInitiate, 0, 0,
			opToResponderX, 2, 0, opToResponder, 2, 0, opToResponder, 2, 0),
		// Never: the initiation replayed, before and after completion, and
		// from the attacker; the response replayed.
		s(0, opInitiate, 0, 0, opToResponder, 0, 0, opToResponder, 0, 0, opToResponderX, 0, 0,
			opToInitiator, 1, 0, opToInitiator, 1, 0, opToResponder, 0, 0, opConfirm, 0, 0),
		// Never: retransmitted initiations (w0, w1), answered out of
		// order: the older is then a replay; the newer's response
		// completes.
		s(0, opInitiate, 0, 0, opTick, 2, 0, opInitiate, 0, 0, opToResponder, 1, 0, opToResponder, 0, 0,
			opToInitiator, 2, 0, opConfirm, 0, 0),
		// Never: an older initiation admitted first, then the newer: the
		// response to the older does not complete the dial.
		s(0, opInitiate, 0, 0, opInitiate, 0, 0, opToResponder, 0, 0, opToResponder, 1, 0,
			opToInitiator, 2, 0, opToInitiator, 3, 0, opConfirm, 0, 0),
		// Never: corrupted initiation and response, each byte position.
		s(0, opInitiate, 0, 0, opCorrupt, 0, 5, opCorrupt, 0, 200, opToResponder, 1, 0, opToResponder, 2, 0,
			opToResponder, 0, 0, opCorrupt, 3, 9, opToInitiator, 4, 0, opToInitiator, 3, 0),
		// Never: accepted, never confirmed, timed out; a later dial.
		s(0, opInitiate, 0, 0, opToResponder, 0, 0, opTick, 30, 0, opTimeout, 0, 0,
			opToInitiator, 1, 0, opInitiate, 0, 0, opToResponder, 2, 0, opToInitiator, 3, 0, opConfirm, 0, 0),
		// Never: retransmissions fill the budget of 3, the fourth is
		// refused (busy) and the refusal ends the dial; timeouts free it.
		s(0, opInitiate, 0, 0, opToResponder, 0, 0, opInitiate, 0, 0, opToResponder, 2, 0,
			opInitiate, 0, 0, opToResponder, 4, 0, opInitiate, 0, 0, opToResponder, 6, 0,
			opToInitiator, 7, 0, opTimeout, 0, 0, opTick, 40, 0, opTimeout, 0, 0),
		// Under load (threshold 1): after two pending handshakes, cookie
		// replies; one taken, the next initiation carries it.
		s(2, opInitiate, 0, 0, opToResponder, 0, 0, opInitiate, 0, 0, opToResponder, 2, 0,
			opInitiate, 0, 0, opToResponder, 4, 0, opInitiate, 0, 0, opToResponder, 6, 0,
			opToInitiator, 7, 0, opTimeout, 0, 0, opTick, 40, 0, opTimeout, 0, 0),
		// Never: a refusal (extra%4 == 3) delivered to the initiator.
		s(0, opInitiate, 0, 0, opToResponder, 0, 3, opToInitiator, 1, 0, opInitiate, 0, 0),
	}
}

// TestHandshakeScripts: the scripts reach what they are meant to, so the
// fuzzer starts from every state: a completed and confirmed handshake, a
// cookie round, a replay refused, a timeout, a refusal.
func TestHandshakeScripts(t *testing.T) {
	scripts := handshakeScripts()
	run := func(i int) *hsModel {
		m := newHSModel(t, scripts[i][0])
		ops := scripts[i][1:]
		for j := 0; j+2 < len(ops); j += 3 {
			m.step(ops[j], ops[j+1], ops[j+2])
			m.check()
		}
		return m
	}
	confirmed := func(m *hsModel) int {
		n := 0
		for _, p := range m.pendings {
			if p.confirmed {
				n++
			}
		}
		return n
	}
	for _, i := range []int{0, 1, 3, 4, 7} {
		if m := run(i); confirmed(m) != 1 {
			t.Errorf("script %d: %d handshakes confirmed, want 1", i, confirmed(m))
		}
	}
	if st := run(3).r.Stats(); st.Replayed == 0 {
		t.Errorf("script 3 replays nothing: %+v", st)
	}
	if st := run(1).r.Stats(); st.CookieReplies == 0 {
		t.Errorf("script 1 sends no cookie reply: %+v", st)
	}
	if st := run(7).r.Stats(); st.Failed != 1 {
		t.Errorf("script 7 times nothing out: %+v", st)
	}
	if st := run(8).r.Stats(); st.OverBudget == 0 {
		t.Errorf("script 8 never exhausts the budget: %+v", st)
	}
	if st := run(9).r.Stats(); st.CookieReplies == 0 || st.Accepted < 2 {
		t.Errorf("script 9 is not under load: %+v", st)
	}
	if m := run(10); !m.dials[0].done || m.dials[0].keys != nil {
		t.Error("script 10: the refusal did not end the dial")
	}
}
