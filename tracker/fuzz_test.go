package tracker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/fuzzseed"
	"github.com/petrel-transport/petrel/internal/monotime"
)

// refPacket and refTracker are the reference model: a map of packets and a
// full scan for everything, the rules of RFC 9002 section 6 written out
// the plain way, with loss taking a packet out of flight and Retransmit
// moving its data to a new packet number.
type refState uint8

const (
	refInFlight refState = iota
	refLost
	refAcked
	refAbandoned
	refDropped
	refRetransmitted
)

type refPacket struct {
	stream    StreamID
	size      uint32
	sent      monotime.Time
	gen       Generation
	st        refState
	probe     bool // left flight by a probe timeout
	lateAcked bool // retransmitted, then acknowledged
	forgotten bool // its chunk was freed since: a late ACK finds nothing
}

type refTracker struct {
	pkts         map[uint64]*refPacket
	maxRetx      Generation
	sentEnd      uint64
	largestAcked uint64 // +1
	lastSent     monotime.Time
	flight       uint64
}

func (m *refTracker) sorted() []uint64 {
	pns := make([]uint64, 0, len(m.pkts))
	for pn := range m.pkts {
		pns = append(pns, pn)
	}
	slices.Sort(pns)
	return pns
}

// leave takes p out of flight to state st and returns its bytes.
func (m *refTracker) leave(p *refPacket, st refState) uint64 {
	p.st = st
	m.flight -= uint64(p.size)
	return uint64(p.size)
}

func (m *refTracker) send(pn uint64, s StreamID, size uint32, now monotime.Time, gen Generation) {
	m.pkts[pn] = &refPacket{stream: s, size: size, sent: now, gen: gen}
	m.flight += uint64(size)
	m.sentEnd = max(m.sentEnd, pn+1)
	m.lastSent = max(m.lastSent, now)
}

// forget marks the retransmitted packets of chunks the tracker has freed:
// a chunk lives while it holds a packet in flight or lost.
func (m *refTracker) forget() {
	live := map[uint64]bool{}
	for pn, p := range m.pkts {
		if p.st <= refLost {
			live[pn>>chunkBits] = true
		}
	}
	for pn, p := range m.pkts {
		if !live[pn>>chunkBits] {
			p.forgotten = true
		}
	}
}

func (m *refTracker) ack(ranges []AckRange, now monotime.Time) (AckResult, error) {
	res := AckResult{PriorInFlight: m.flight}
	for _, r := range ranges {
		if r.Smallest > r.Largest || r.Largest >= m.sentEnd {
			return AckResult{}, ErrAckUnsent
		}
		res.LargestAcked = max(res.LargestAcked, r.Largest)
	}
	if len(ranges) == 0 {
		return res, nil
	}
	late := func(p *refPacket) {
		if p.probe {
			res.LateProbes++
		} else {
			res.Spurious++
			res.SpuriousBytes += uint64(p.size)
		}
	}
	for _, r := range ranges {
		for _, pn := range m.sorted() {
			p := m.pkts[pn]
			if pn < r.Smallest || pn > r.Largest {
				continue
			}
			switch {
			case p.st == refInFlight:
				res.NewlyAcked++
				res.AckedBytes += m.leave(p, refAcked)
			case p.st == refLost:
				p.st = refAcked
				late(p)
			case p.st == refRetransmitted && !p.lateAcked && !p.forgotten:
				p.lateAcked = true
				late(p)
			default:
				continue
			}
			res.AckEliciting = true
			if pn >= res.LargestNewlyAcked {
				res.LargestNewlyAcked, res.LargestNewlySent = pn, p.sent
			}
		}
	}
	m.largestAcked = max(m.largestAcked, res.LargestAcked+1)
	if res.AckEliciting && res.LargestNewlyAcked == res.LargestAcked {
		res.RTTValid, res.LatestRTT = true, now.Sub(res.LargestNewlySent)
	}
	return res, nil
}

func (m *refTracker) due(now monotime.Time, rtt RTT) ([]Resend, LossResult) {
	var out []Resend
	var res LossResult
	inFlight := func() bool {
		for _, p := range m.pkts {
			if p.st == refInFlight {
				return true
			}
		}
		return false
	}
	if !inFlight() {
		return nil, res
	}
	handOut := func(pn uint64, p *refPacket, probe bool) bool {
		if p.gen >= m.maxRetx {
			res.Abandoned++
			res.AbandonedBytes += m.leave(p, refAbandoned)
			return false
		}
		n := m.leave(p, refLost)
		p.probe = probe
		out = append(out, Resend{PN: pn, Gen: p.gen, Stream: p.stream, Size: p.size, Probe: probe})
		if probe {
			res.Probes++
			res.ProbeBytes += n
		} else {
			res.Lost++
			res.LostBytes += n
			res.LargestLostSent = max(res.LargestLostSent, p.sent)
		}
		return true
	}
	lossDelay := max(max(rtt.smoothed(), rtt.Latest)*9/8, time.Millisecond)
	var lossTime monotime.Time
	if m.largestAcked > 1 {
		largest := m.largestAcked - 1
		for _, pn := range m.sorted() {
			p := m.pkts[pn]
			if p.st != refInFlight || pn >= largest {
				continue
			}
			if largest-pn >= 3 || now.Sub(p.sent) >= lossDelay {
				handOut(pn, p, false)
			} else if at := p.sent.Add(lossDelay); lossTime == 0 || at < lossTime {
				lossTime = at
			}
		}
	}
	if res.Lost > 0 || res.Abandoned > 0 || lossTime != 0 {
		res.Next = lossTime
	} else if deadline := m.lastSent.Add(rtt.pto()); now < deadline {
		res.Next = deadline
	} else {
		res.PTO = true
		for _, pn := range m.sorted() {
			if p := m.pkts[pn]; p.st == refInFlight && handOut(pn, p, true) && res.Probes == 2 {
				break
			}
		}
		next := rtt
		next.PTOCount++
		res.Next = now.Add(next.pto())
	}
	if res.Next == 0 && inFlight() {
		res.Next = m.lastSent.Add(rtt.pto())
	}
	return out, res
}

// retransmit returns the model's answer to Retransmit(lost, newPN): nil,
// or the error the tracker gives while it still knows the packet (it may
// also answer ErrNotLost once the packet's chunk is gone).
func (m *refTracker) retransmit(lost, newPN uint64, size uint32, now monotime.Time) error {
	p := m.pkts[lost]
	switch {
	case p == nil:
		return ErrNotLost
	case p.st == refAcked:
		return ErrAcked
	case p.st == refDropped:
		return ErrDropped
	case p.st == refAbandoned:
		return ErrAbandoned
	case p.st != refLost:
		return ErrNotLost
	}
	p.st = refRetransmitted
	m.send(newPN, p.stream, size, now, p.gen+1)
	return nil
}

func (m *refTracker) resolve(p *refPacket, st refState) uint64 {
	switch p.st {
	case refInFlight:
		return m.leave(p, st)
	case refLost:
		p.st = st
	}
	return 0
}

func (m *refTracker) drop(s StreamID) uint64 {
	var n uint64
	for _, p := range m.pkts {
		if p.stream == s && s != Control {
			n += m.resolve(p, refDropped)
		}
	}
	return n
}

// FuzzTracker runs random operation sequences against the tracker and the
// reference model and compares every result.
func FuzzTracker(f *testing.F) {
	fuzzseed.Add(f, []byte{0, 1, 0, 2, 0, 3, 0, 4, 1, 3, 2, 0, 3, 0, 2, 50, 4, 1})
	fuzzseed.Add(f, []byte{0, 9, 0, 9, 0, 9, 0, 9, 0, 9, 6, 200, 2, 0, 6, 90, 2, 0, 3, 1, 5, 2, 1, 255, 7, 3})
	fuzzseed.Add(f, []byte{0, 200, 8, 3, 0, 1, 0, 2, 9, 0, 1, 10, 2, 0, 4, 0, 4, 1, 4, 2, 4, 4})
	fuzzseed.Add(f, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7, 6, 30, 2, 9, 3, 0, 3, 1, 6, 99, 1, 4, 2, 1, 3, 2, 6, 250, 2, 2})
	fuzzseed.Add(f, []byte{0, 1, 0, 1, 0, 1, 0, 1, 1, 3, 2, 0, 3, 0, 1, 0, 3, 2, 2, 0, 6, 250, 2, 0, 3, 4, 1, 21, 4, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4000 {
			return
		}
		r := newRig(t, Config{MaxRetransmits: 2})
		m := &refTracker{pkts: map[uint64]*refPacket{}, maxRetx: 2}
		now, next := 10*ms, uint64(0)
		var skipped []uint64
		rtt := rtt10
		var dst []Resend
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%10, ops[i+1]
			pick := func() uint64 { // a packet number near the sent ones
				if next == 0 {
					return uint64(arg)
				}
				return uint64(arg) * 7 % (next + 2)
			}
			switch op {
			case 0, 8: // send the next packet number (sometimes leaving a gap)
				pn := next
				next += 1 + uint64(arg%2)*uint64(arg%3)
				if op == 8 {
					next += chunkSize * uint64(1+arg%3) // jump chunks
				}
				for q := pn + 1; q < next && len(skipped) < 64 && q < pn+4; q++ {
					skipped = append(skipped, q)
				}
				s := StreamID(arg % 5)
				if arg%7 == 0 {
					s = Control
				}
				size := uint32(arg) + 1
				r.send(t, pn, s, size, now)
				m.send(pn, s, size, now, 0)
			case 9: // a late send of a skipped packet number
				if len(skipped) == 0 {
					continue
				}
				pn := skipped[int(arg)%len(skipped)]
				skipped = slices.DeleteFunc(skipped, func(q uint64) bool { return q == pn })
				r.send(t, pn, StreamID(arg%5), 50, now)
				m.send(pn, StreamID(arg%5), 50, now, 0)
			case 1: // ack one or two ranges
				hi := pick()
				ranges := []AckRange{rng(hi-min(hi, uint64(arg%5)), hi)}
				if arg%3 == 0 && hi > 10 {
					ranges = append(ranges, rng(hi/2, hi/2+uint64(arg%4)))
				}
				got, gerr := r.t.OnAck(ranges, time.Millisecond, now)
				want, werr := m.ack(ranges, now)
				want.AckDelay = time.Millisecond
				if gerr != werr {
					t.Fatalf("op %d OnAck(%v) err %v, model %v", i, ranges, gerr, werr)
				}
				if werr == nil && got != want {
					t.Fatalf("op %d OnAck(%v):\n got  %+v\n want %+v", i, ranges, got, want)
				}
			case 2: // loss detection
				var got LossResult
				dst, got = r.t.DueForResend(dst[:0], now, rtt)
				wantList, want := m.due(now, rtt)
				if got != want || !slices.Equal(dst, wantList) {
					t.Fatalf("op %d DueForResend at %v:\n got  %+v %+v\n want %+v %+v", i, now, got, dst, want, wantList)
				}
				if got.PTO {
					rtt.PTOCount++
				}
			case 3: // retransmit a handed-out packet (or a guessed one) as the next packet number
				lost := pick()
				if len(dst) > 0 && arg%2 == 0 {
					lost = dst[int(arg)%len(dst)].PN
				}
				pn, size := next, uint32(arg)+1
				gerr := r.retransmit(lost, pn, size, now)
				werr := m.retransmit(lost, pn, size, now)
				if (gerr == nil) != (werr == nil) || gerr != nil && !errors.Is(gerr, werr) && !errors.Is(gerr, ErrNotLost) {
					t.Fatalf("op %d Retransmit(%d, %d) = %v, model %v", i, lost, pn, gerr, werr)
				}
				if gerr == nil {
					next++
				}
			case 4:
				s := StreamID(arg % 6)
				if got, want := r.t.DropStream(s), m.drop(s); got != want {
					t.Fatalf("op %d DropStream(%d) = %d, model %d", i, s, got, want)
				}
			case 5:
				pn := pick()
				var want uint64
				if p := m.pkts[pn]; p != nil {
					want = m.resolve(p, refAbandoned)
				}
				if got := r.t.Abandon(pn); got != want {
					t.Fatalf("op %d Abandon(%d) = %d, model %d", i, pn, got, want)
				}
			case 6:
				now += monotime.Time(arg) * ms / 4
			case 7:
				pn := pick()
				p := m.pkts[pn]
				if got, want := r.t.InFlight(pn), p != nil && p.st == refInFlight; got != want {
					t.Fatalf("op %d InFlight(%d) = %v, model %v", i, pn, got, want)
				}
			}
			m.forget()
			if r.fl.Load() != m.flight {
				t.Fatalf("op %d (%d): flight %d, model %d", i, op, r.fl.Load(), m.flight)
			}
		}
		r.checkBooks(t)
		var lost int64
		for _, p := range m.pkts {
			if p.st == refLost {
				lost++
			}
		}
		if st := r.t.Stats(); st.LostPending != lost {
			t.Fatalf("LostPending %d, model %d", st.LostPending, lost)
		}
	})
}
