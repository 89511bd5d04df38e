package secure_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// cookieFor runs one initiation from ini against r (CookieAlways) from
// address from at now and hands the cookie reply to ini.
func takeCookie(t *testing.T, r *secure.Responder, ini *secure.Initiator, from int, now monotime.Time) {
	t.Helper()
	msg, _ := ini.Initiation(nil, wall0, now)
	res, err := r.ReadInitiation(nil, msg, addr(from), now)
	if !errors.Is(err, secure.ErrCookieRequired) || res.Incoming != nil || len(res.Reply) != secure.CookieReplyLen {
		t.Fatalf("first initiation: %v, incoming %v, reply of %d bytes", err, res.Incoming, len(res.Reply))
	}
	if cid, ok := secure.DestConnID(res.Reply); !ok || cid != ini.ConnID() {
		t.Fatalf("cookie reply addressed to %v", cid)
	}
	if err := ini.HandleCookieReply(res.Reply, now); err != nil {
		t.Fatal(err)
	}
}

func TestCookieRoundTrip(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieAlways })
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	takeCookie(t, r, ini, 1, t0)
	if r.Pending() != 0 {
		t.Fatal("state kept before the cookie came back")
	}
	msg, _ := ini.Initiation(nil, wall0, t0)
	res, err := r.ReadInitiation(nil, msg, addr(1), t0)
	if err != nil {
		t.Fatalf("initiation with the cookie: %v", err)
	}
	if !res.Incoming.Validated {
		t.Fatal("a cookie must validate the address")
	}
	_, _, p, err := res.Incoming.Accept(nil, make([]byte, secure.MaxPayload), t0)
	if err != nil {
		t.Fatalf("a validated address has no amplification limit: %v", err)
	}
	if !p.Amplification().Validated() {
		t.Fatal("pending handshake not validated")
	}
	if st := r.Stats(); st.CookieReplies != 1 || st.BadCookie != 0 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCookieFromAnotherAddressRefused(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieAlways })
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	takeCookie(t, r, ini, 1, t0)
	msg, _ := ini.Initiation(nil, wall0, t0)
	res, err := r.ReadInitiation(nil, msg, addr(2), t0)
	if !errors.Is(err, secure.ErrCookieRequired) || res.Incoming != nil {
		t.Fatalf("cookie of address 1 used from address 2: %v", err)
	}
	if st := r.Stats(); st.BadCookie != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCookieBuckets(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	for _, tc := range []struct {
		name  string
		later monotime.Time
		ok    bool
	}{
		{"same bucket", 0, true},
		{"next bucket", monotime.Time(secure.CookieRotation), true},
		{"two buckets on (expired)", monotime.Time(2 * secure.CookieRotation), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieAlways })
			ini := newInitiator(t, &ikp, rkp.Public, nil)
			takeCookie(t, r, ini, 1, t0)
			// The initiator still thinks its cookie fresh (its now is t0);
			// the responder reads later.
			msg, _ := ini.Initiation(nil, wall0, t0)
			_, err := r.ReadInitiation(nil, msg, addr(1), t0+tc.later)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && (!errors.Is(err, secure.ErrCookieRequired) || r.Stats().BadCookie != 1) {
				t.Fatalf("expired cookie: %v %+v", err, r.Stats())
			}
		})
	}
}

// An initiator stops sending a cookie it has held for CookieLifetime.
func TestInitiatorDropsOldCookie(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieAlways })
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	takeCookie(t, r, ini, 1, t0)
	later := t0 + monotime.Time(secure.CookieLifetime)
	msg, _ := ini.Initiation(nil, wall0, later)
	if !bytes.Equal(msg[len(msg)-16:], make([]byte, 16)) {
		t.Fatal("an expired cookie was still used for mac2")
	}
}

func TestForgedCookieReply(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieAlways })
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	msg, _ := ini.Initiation(nil, wall0, t0)
	res, _ := r.ReadInitiation(nil, msg, addr(1), t0)
	for i := range len(res.Reply) * 8 {
		forged := bytes.Clone(res.Reply)
		forged[i/8] ^= 1 << (i % 8)
		if err := ini.HandleCookieReply(forged, t0); err == nil {
			t.Fatalf("cookie reply with bit %d flipped accepted", i)
		}
	}
	// A reply to an earlier initiation (its mac1 differs) is refused.
	if _, err := ini.Initiation(nil, wall0, t0); err != nil {
		t.Fatal(err)
	}
	if err := ini.HandleCookieReply(res.Reply, t0); !errors.Is(err, secure.ErrDecrypt) {
		t.Fatalf("stale cookie reply: %v", err)
	}
}

func TestUnderLoadAsksForCookies(t *testing.T) {
	rkp := keyPair(t, "r")
	const threshold = 3
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.LoadThreshold = threshold })
	var pend []*secure.Pending
	for i := range threshold + 1 {
		ikp := keyPair(t, string(rune('a'+i)))
		ini := newInitiator(t, &ikp, rkp.Public, nil)
		msg, _ := ini.Initiation(nil, wall0, t0)
		res, err := r.ReadInitiation(nil, msg, addr(i), t0)
		if err != nil {
			t.Fatalf("initiation %d below the threshold: %v", i, err)
		}
		_, _, p, err := res.Incoming.Accept(nil, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	ikp := keyPair(t, "late")
	ini := newInitiator(t, &ikp, rkp.Public, nil)
	msg, _ := ini.Initiation(nil, wall0, t0)
	if _, err := r.ReadInitiation(nil, msg, addr(99), t0); !errors.Is(err, secure.ErrCookieRequired) {
		t.Fatalf("above the threshold: %v", err)
	}
	o := complete(t, r, ini, addr(99), t0)
	if !o.in.Validated {
		t.Fatal("the handshake after the cookie must be validated")
	}
	// Below the threshold again, no cookie is asked for.
	for _, p := range pend {
		p.Fail()
	}
	o.pending.Fail()
	ikp2 := keyPair(t, "after")
	ini2 := newInitiator(t, &ikp2, rkp.Public, nil)
	msg, _ = ini2.Initiation(nil, wall0, t0)
	if _, err := r.ReadInitiation(nil, msg, addr(100), t0); err != nil {
		t.Fatalf("load gone: %v", err)
	}
}

func TestAmplificationLimit(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieNever })
	// A minimal initiation (empty payload) allows 3x its size back: a
	// response with the largest payload is more.
	ini := newInitiator(t, &ikp, rkp.Public, func(c *secure.InitiatorConfig) { c.Payload = nil })
	msg, _ := ini.Initiation(nil, wall0, t0)
	if len(msg) != secure.MinInitiationLen {
		t.Fatalf("initiation of %d bytes, want %d", len(msg), secure.MinInitiationLen)
	}
	res, err := r.ReadInitiation(nil, msg, addr(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, secure.MaxPayload)
	if _, _, _, err := res.Incoming.Accept(nil, big, t0); !errors.Is(err, secure.ErrAmplification) {
		t.Fatalf("oversized response to an unvalidated address: %v", err)
	}
	if r.Pending() != 0 {
		t.Fatal("a withheld response must release its admission")
	}
	// A response within 3x goes; the pending handshake's ledger carries on.
	msg, _ = ini.Initiation(nil, wall0, t0)
	res, err = r.ReadInitiation(nil, msg, addr(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, p, err := res.Incoming.Accept(nil, []byte("small"), t0)
	if err != nil {
		t.Fatal(err)
	}
	in, sent := p.Amplification().Counts()
	if in != int64(len(msg)) || sent != int64(len(resp)) {
		t.Fatalf("ledger in %d sent %d, want %d %d", in, sent, len(msg), len(resp))
	}
	room := int(3*in - sent)
	if p.Amplification().TrySend(room+1) || !p.Amplification().TrySend(room) || p.Amplification().TrySend(1) {
		t.Fatal("the ledger must allow exactly 3x the bytes received")
	}
	p.Confirm()
	if !p.Amplification().TrySend(1 << 20) {
		t.Fatal("a confirmed address has no limit")
	}
	st := r.Stats()
	if st.Amplification != 1 || st.UnvalidatedOut > 3*st.UnvalidatedIn {
		t.Fatalf("stats %+v", st)
	}
}

// Under a flood of garbage and cookie-less initiations, every reply stays
// within 3x the bytes that caused it, and no state is kept.
func TestCookieRepliesNeverAmplify(t *testing.T) {
	ikp, rkp := keyPair(t, "i"), keyPair(t, "r")
	r := newResponder(t, &rkp, func(c *secure.ResponderConfig) { c.CookieMode = secure.CookieAlways })
	ini := newInitiator(t, &ikp, rkp.Public, func(c *secure.InitiatorConfig) { c.Payload = nil })
	var in, out int
	for i := range 200 {
		msg, _ := ini.Initiation(nil, wall0, t0)
		res, err := r.ReadInitiation(nil, msg, addr(i), t0)
		if !errors.Is(err, secure.ErrCookieRequired) {
			t.Fatal(err)
		}
		in += len(msg)
		out += len(res.Reply)
		if len(res.Reply) > 3*len(msg) {
			t.Fatalf("reply of %d bytes to %d", len(res.Reply), len(msg))
		}
	}
	st := r.Stats()
	if st.UnvalidatedIn != uint64(in) || st.UnvalidatedOut != uint64(out) || st.Pending != 0 {
		t.Fatalf("stats %+v, counted in %d out %d", st, in, out)
	}
}
