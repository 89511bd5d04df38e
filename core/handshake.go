package core

// Handshakes. The dialling side runs on the dialling goroutine: it sends
// initiations, retransmits them on the wheel with a doubling timeout, and
// completes the handshake from the responses the receive path hands it (a
// copy through a channel: the Noise work stays off the driver's loop). The
// answering side runs on the driver's loop: secure.Responder checks the
// initiation (MAC, cookie, authentication, replay, admission), the registry
// decides whether the new connection may stand (double-connection rule; a
// peer that re-dials while its old incoming session lingers replaces it at
// once, so a restarted peer is never refused), and only then is the
// response sent and the connection queued for Accept.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/petrel-transport/petrel/core/secure"
	"github.com/petrel-transport/petrel/core/wire"
	"github.com/petrel-transport/petrel/internal/monotime"
	"github.com/petrel-transport/petrel/internal/wheel"
)

// NoAnswerError is a dial's error when no valid handshake response came:
// the peer at Addr does not hold the key dialled (a Noise IK initiation
// sealed to another key cannot be opened, and the responder stays silent
// rather than reveal itself), is not running, or is unreachable. It wraps
// the context's error (errors.Is(err, context.DeadlineExceeded) holds for a
// dial timeout).
type NoAnswerError struct {
	Addr     netip.AddrPort
	Attempts int           // initiations sent
	Waited   time.Duration // since the first
	Err      error
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("no handshake answer from %v after %d initiations in %v: the peer does not hold this key, or is down or unreachable (%v)",
		e.Addr, e.Attempts, e.Waited.Round(time.Millisecond), e.Err)
}

func (e *NoAnswerError) Unwrap() error { return e.Err }

// dialing is one handshake in flight, found by the initiator's connection id.
type dialing struct {
	replies chan []byte   // responses and cookie replies, copied
	tick    chan struct{} // the retransmission timer fired
	timer   wheel.Timer
}

// handshake dispatches a handshake datagram on the driver's loop.
func (e *engine) handshake(ls *loopScratch, d []byte, from netip.AddrPort) {
	switch {
	case secure.IsInitiation(d):
		e.onInitiation(ls, d, from)
	case secure.IsResponse(d), secure.IsCookieReply(d):
		cid, ok := secure.DestConnID(d)
		if !ok {
			e.drops.BadHeader.Add(1)
			return
		}
		dl, ok := e.dials.Load(wire.ConnID(cid))
		if !ok {
			e.drops.StrayReply.Add(1)
			return
		}
		select {
		case dl.replies <- append([]byte(nil), d...):
		default: // the dial has replies to work on; a lost one is retransmitted
		}
	default:
		e.drops.BadHeader.Add(1)
	}
}

// Dial implements Dialer: one handshake with p at its address.
func (e *engine) Dial(ctx context.Context, p *Peer) (Session, error) {
	addr := p.Addr()
	if !addr.IsValid() {
		return nil, errNoAddr
	}
	if e.n.cfg.Ring.Enabled {
		// With a ring topology an outgoing connection starts transient too.
		if !e.n.reserve(p, e.n.clock.Now()) {
			return nil, ErrTransientBudget
		}
		s, err := e.dial(ctx, p, addr)
		if err != nil {
			e.n.settleSlot(p)
		}
		return s, err
	}
	return e.dial(ctx, p, addr)
}

// errCrossed ends a dial whose peer's own dial won: see dial.
var errCrossed = errors.New("core: the peer's crossing dial won; its connection is installed")

// dial runs the initiator's handshake.
func (e *engine) dial(ctx context.Context, p *Peer, addr netip.AddrPort) (Session, error) {
	cid := e.newConnID()
	ours := e.localParams(cid)
	payload, err := wire.AppendTransportParams(nil, &ours)
	if err != nil {
		return nil, err
	}
	ini, err := secure.NewInitiator(secure.InitiatorConfig{
		Static:  &e.kp,
		Peer:    secure.PublicKey(p.Key()),
		Suite:   e.cfg.Suite,
		ConnID:  secure.ConnID(cid),
		Payload: payload,
		Stamper: &e.stamper,
	})
	if err != nil {
		return nil, err
	}
	defer ini.Close()
	dl := &dialing{replies: make(chan []byte, 4), tick: make(chan struct{}, 1)}
	dl.timer.Init(e.n.wheel, func(monotime.Time) {
		select {
		case dl.tick <- struct{}{}:
		default:
		}
	})
	if _, loaded := e.dials.LoadOrStore(cid, dl); loaded {
		return nil, errors.New("core: connection id collision") // 2^-64: newConnID checked
	}
	defer func() {
		e.dials.Delete(cid)
		e.n.wheel.Cancel(&dl.timer)
	}()

	rto := e.cfg.HandshakeRTO
	var buf []byte
	initiate := func() error {
		now := e.n.clock.Now()
		var err error
		if buf, err = ini.Initiation(buf[:0], time.Now(), now); err != nil {
			return err
		}
		e.sendRaw(addr, buf)
		e.n.wheel.Reset(&dl.timer, now.Add(rto))
		return nil
	}
	if err := initiate(); err != nil {
		return nil, err
	}
	attempts, started := 1, e.n.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return nil, &NoAnswerError{Addr: addr, Attempts: attempts, Waited: e.n.clock.Now().Sub(started), Err: ctx.Err()}
		case <-dl.tick:
			if c, ok := p.Session().(*Conn); ok && c.incoming && c.confirmed.Load() && c.IsAlive() {
				// The peer's dial crossed ours and its connection won the
				// double-connection rule on both sides: the peer keeps it
				// and never answers ours (onInitiation, Kept). Node.Dial
				// returns that connection.
				return nil, errCrossed
			}
			attempts++
			rto = min(2*rto, MaxHandshakeRTO)
			if err := initiate(); err != nil {
				return nil, err
			}
		case msg := <-dl.replies:
			now := e.n.clock.Now()
			if secure.IsCookieReply(msg) {
				if ini.HandleCookieReply(msg, now) == nil {
					if err := initiate(); err != nil { // again, with the cookie
						return nil, err
					}
				}
				continue
			}
			keys, theirs, err := ini.HandleResponse(msg)
			if err != nil {
				var refused *secure.RefusedError
				if errors.As(err, &refused) {
					return nil, err
				}
				continue // forged or stale: the real response may follow
			}
			peer, err := wire.ParseTransportParams(theirs)
			if err != nil {
				keys.Zero()
				return nil, err
			}
			c, err := e.newConn(p.Key(), keys, cid, peer.ConnID, addr, ours, peer, false, nil)
			if err != nil {
				return nil, err
			}
			e.conns.Store(cid, c)
			c.s.Flush(now) // the first packet: it confirms the handshake to the responder
			return c, nil
		}
	}
}

// onInitiation answers an initiation on the driver's loop.
func (e *engine) onInitiation(ls *loopScratch, d []byte, from netip.AddrPort) {
	now := e.n.clock.Now()
	res, err := e.resp.ReadInitiation(ls.reply[:0], d, from, now)
	if res.Reply != nil {
		ls.reply = res.Reply[:0]
		e.sendRaw(from, res.Reply)
	}
	switch {
	case errors.Is(err, secure.ErrCookieRequired):
		e.drops.CookieRequired.Add(1)
		return
	case errors.Is(err, secure.ErrOverBudget):
		e.drops.OverBudget.Add(1)
		return
	case err != nil:
		e.drops.Handshake.Add(1)
		return
	}
	in := res.Incoming
	key := PeerKey(in.Peer)
	refuse := func(why secure.RefuseReason) {
		if b, err := in.Refuse(ls.reply[:0], why); err == nil {
			e.sendRaw(from, b)
		}
	}
	theirs, err := wire.ParseTransportParams(in.Payload)
	if err != nil || key == e.n.cfg.Local || e.n.ctx.Err() != nil {
		e.drops.Handshake.Add(1)
		refuse(secure.RefuseNotAllowed)
		return
	}
	if len(e.accepts) == cap(e.accepts) {
		e.drops.OverBudget.Add(1)
		refuse(secure.RefuseBusy)
		return
	}
	e.replaceLingering(key, now)
	p, _, ok := e.n.table.loadOrCreate(key, from)
	if !ok {
		refuse(secure.RefuseNotAllowed) // the node is closing
		return
	}
	e.n.table.recordStamp(p, in.Timestamp)
	if !e.n.reserve(p, now) {
		e.drops.OverBudget.Add(1)
		refuse(secure.RefuseBusy)
		return
	}
	cid := e.newConnID()
	ours := e.localParams(cid)
	if ls.params, err = wire.AppendTransportParams(ls.params[:0], &ours); err != nil {
		refuse(secure.RefuseNotAllowed)
		return
	}
	resp, keys, pending, err := in.Accept(ls.reply[:0], ls.params, now)
	if err != nil {
		e.drops.Handshake.Add(1)
		e.n.settleSlot(p)
		return
	}
	ls.reply = resp[:0]
	c, err := e.newConn(key, keys, cid, wire.ConnID(in.ConnID), from, ours, theirs, true, pending)
	if err != nil {
		if pending.Fail() {
			e.drops.Unconfirmed.Add(1)
		}
		e.n.settleSlot(p)
		return
	}
	e.conns.Store(cid, c)
	sw, err := e.n.AcceptSession(key, from, func() Session { return c })
	if err != nil || sw.Kept {
		// The existing connection stands (or the node is closing): the
		// response is not sent; the initiator's dial ends by its timeout
		// or with the other connection.
		c.s.Close()
		e.n.settleSlot(p)
		return
	}
	if p, ok := e.n.table.Load(key); ok {
		c.peer.Store(p)
		// An old session that ended between the reservation and the
		// install dropped the slot: the new connection starts transient.
		e.n.reserve(p, now)
	}
	e.n.wheel.Add(&c.deadline, pending.Deadline())
	e.sendRaw(from, resp)
	// Accept sees the connection once the initiator confirms it
	// (Conn.onConfirmed), not now: until then a new initiation of the same
	// dial (the initiator's RTO fired before this response reached it)
	// replaces it, and the initiator completes only with the newest one.
}

// replaceLingering ends key's current session if the peer initiated it: a
// peer that dials again while its own earlier connection is still installed
// here has lost it (it restarted, or its side timed out), so the old one is
// a zombie and the new initiation — authenticated, and newer than any
// before it by its timestamp — replaces it at once instead of waiting for
// an idle timeout. A session this node initiated is left to the
// double-connection rule (crossing dials must resolve the same way on both
// sides).
func (e *engine) replaceLingering(key PeerKey, now monotime.Time) {
	p, ok := e.n.table.Load(key)
	if !ok {
		return
	}
	r := p.liveRef()
	if r == nil || !r.incoming {
		return
	}
	if e.n.table.removeExact(p, r) {
		e.n.ended(p, r, ErrReplaced, now)
	}
}
