package core

// Callback pairing. OnConnect and OnDisconnect for one session come from
// different goroutines: the installer announces the connect, and whichever
// actor removes the session (its processing goroutine, the reaper, a Swap
// that replaces it, Disconnect, Close) announces the disconnect. A remover
// may win the race against the installer's OnConnect; it must not report
// the disconnect first. sessionRef.ann settles it with one CAS each:
//
//   - the installer, after OnConnect returns, moves annPending -> annDone;
//     if that fails, a remover came first and left its reason in why: the
//     installer fires OnDisconnect itself;
//   - the remover moves annPending -> annEnded (after storing why); if that
//     fails, OnConnect has returned: the remover fires OnDisconnect now.
//
// Exactly one of them fires OnDisconnect, always after OnConnect returned,
// and neither holds a lock while doing so.
const (
	annPending uint32 = iota
	annDone
	annEnded
)

// announceConnect fires OnConnect for an installed session, then settles the
// pairing with a concurrent remover.
func (n *Node) announceConnect(p *Peer, r *sessionRef) {
	if f := n.cfg.OnConnect; f != nil {
		f(p, r.s, r.ctx)
	}
	if !r.ann.CompareAndSwap(annPending, annDone) {
		n.fireDisconnect(p, r, r.why)
	}
}

// announceDisconnect is called once, by the actor that removed r from the
// slot.
func (n *Node) announceDisconnect(p *Peer, r *sessionRef, why error) {
	r.why = why
	if r.ann.CompareAndSwap(annPending, annEnded) {
		return // the installer fires it after OnConnect
	}
	n.fireDisconnect(p, r, why)
}

func (n *Node) fireDisconnect(p *Peer, r *sessionRef, why error) {
	if f := n.cfg.OnDisconnect; f != nil {
		f(p, r.s, why)
	}
}

// publish moves p's published state to its derived state and reports the
// transition, outside any lock.
func (n *Node) publish(p *Peer) {
	if from, to, changed := p.publishState(); changed && n.cfg.OnStateChange != nil {
		n.cfg.OnStateChange(p, from, to)
	}
}
