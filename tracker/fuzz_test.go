package tracker

import (
	"slices"
	"testing"
	"time"

	"github.com/petrel-transport/petrel/internal/monotime"
)

// refPacket and refTracker are the reference model: a map of packets and a
// full scan for everything, the rules of RFC 9002 section 6 written out
// the plain way.
type refPacket struct {
	stream   StreamID
	size     uint32
	sent     monotime.Time
	gen      Generation
	inFlight bool
}

type refTracker struct {
	pkts         map[uint64]*refPacket
	maxRetx      Generation
	sentEnd      uint64
	largestAcked uint64 // +1
	ackedSentMax monotime.Time
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

func (m *refTracker) release(p *refPacket) uint64 {
	if !p.inFlight {
		return 0
	}
	p.inFlight = false
	m.flight -= uint64(p.size)
	return uint64(p.size)
}

func (m *refTracker) send(pn uint64, s StreamID, size uint32, now monotime.Time) {
	m.pkts[pn] = &refPacket{stream: s, size: size, sent: now, inFlight: true}
	m.flight += uint64(size)
	m.sentEnd = max(m.sentEnd, pn+1)
	m.lastSent = max(m.lastSent, now)
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
	var largestGen Generation
	for _, pn := range m.sorted() {
		p := m.pkts[pn]
		for _, r := range ranges {
			if pn >= r.Smallest && pn <= r.Largest && p.inFlight {
				res.NewlyAcked++
				res.AckedBytes += m.release(p)
				m.ackedSentMax = max(m.ackedSentMax, p.sent)
				res.LargestNewlyAcked, res.LargestNewlySent, largestGen = pn, p.sent, p.gen
			}
		}
	}
	m.largestAcked = max(m.largestAcked, res.LargestAcked+1)
	if res.NewlyAcked > 0 {
		res.AckEliciting = true
		if res.LargestNewlyAcked == res.LargestAcked && largestGen == 0 {
			res.RTTValid, res.LatestRTT = true, now.Sub(res.LargestNewlySent)
		}
	}
	return res, nil
}

func (m *refTracker) due(now monotime.Time, rtt RTT) ([]Resend, LossResult) {
	var out []Resend
	var res LossResult
	inFlight := 0
	for _, p := range m.pkts {
		if p.inFlight {
			inFlight++
		}
	}
	if inFlight == 0 {
		return nil, res
	}
	handOut := func(pn uint64, p *refPacket, probe bool) bool {
		if p.gen >= m.maxRetx {
			res.Abandoned++
			res.AbandonedBytes += m.release(p)
			return false
		}
		out = append(out, Resend{PN: pn, Gen: p.gen, Stream: p.stream, Size: p.size, Probe: probe})
		if probe {
			res.Probes++
		} else {
			res.Lost++
			res.LostBytes += uint64(p.size)
			res.LargestLostSent = max(res.LargestLostSent, p.sent)
		}
		return true
	}
	lossDelay := max(max(rtt.smoothed(), rtt.Latest)*9/8, time.Millisecond)
	var lossTime monotime.Time
	if m.largestAcked > 0 {
		largest := m.largestAcked - 1
		for _, pn := range m.sorted() {
			p := m.pkts[pn]
			if !p.inFlight || pn > largest {
				continue
			}
			if p.gen == 0 && pn >= largest || p.gen > 0 && p.sent >= m.ackedSentMax {
				continue
			}
			if p.gen == 0 && largest-pn >= 3 || now.Sub(p.sent) >= lossDelay {
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
			if p := m.pkts[pn]; p.inFlight && handOut(pn, p, true) && res.Probes == 2 {
				break
			}
		}
		next := rtt
		next.PTOCount++
		res.Next = now.Add(next.pto())
	}
	if res.Next == 0 {
		for _, p := range m.pkts {
			if p.inFlight {
				res.Next = m.lastSent.Add(rtt.pto())
				break
			}
		}
	}
	return out, res
}

func (m *refTracker) refresh(pn uint64, gen Generation, now monotime.Time) bool {
	p := m.pkts[pn]
	if p == nil || !p.inFlight || p.gen != gen || gen >= m.maxRetx {
		return false
	}
	p.gen++
	p.sent = now
	m.lastSent = max(m.lastSent, now)
	return true
}

func (m *refTracker) drop(s StreamID) uint64 {
	var n uint64
	for _, p := range m.pkts {
		if p.stream == s && s != Control {
			n += m.release(p)
		}
	}
	return n
}

// FuzzTracker runs random operation sequences against the tracker and the
// reference model and compares every result.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 0, 4, 1, 3, 2, 0, 3, 0, 2, 50, 4, 1})
	f.Add([]byte{0, 9, 0, 9, 0, 9, 0, 9, 0, 9, 6, 200, 2, 0, 6, 90, 2, 0, 3, 1, 5, 2, 1, 255, 7, 3})
	f.Add([]byte{0, 200, 8, 3, 0, 1, 0, 2, 9, 0, 1, 10, 2, 0, 4, 0, 4, 1, 4, 2, 4, 4})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7, 6, 30, 2, 9, 3, 0, 3, 1, 6, 99, 1, 4, 2, 1, 3, 2, 6, 250, 2, 2})
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
				m.send(pn, s, size, now)
			case 9: // a late send of a skipped packet number
				if len(skipped) == 0 {
					continue
				}
				pn := skipped[int(arg)%len(skipped)]
				skipped = slices.DeleteFunc(skipped, func(q uint64) bool { return q == pn })
				r.send(t, pn, StreamID(arg%5), 50, now)
				m.send(pn, StreamID(arg%5), 50, now)
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
			case 3: // refresh (with a guessed or a handed-out generation)
				pn, gen := pick(), Generation(arg%3)
				if len(dst) > 0 && arg%2 == 0 {
					d := dst[int(arg)%len(dst)]
					pn, gen = d.PN, d.Gen
				}
				if got, want := r.t.Refresh(pn, gen, now), m.refresh(pn, gen, now); got != want {
					t.Fatalf("op %d Refresh(%d, %d) = %v, model %v", i, pn, gen, got, want)
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
					want = m.release(p)
				}
				if got := r.t.Abandon(pn); got != want {
					t.Fatalf("op %d Abandon(%d) = %d, model %d", i, pn, got, want)
				}
			case 6:
				now += monotime.Time(arg) * ms / 4
			case 7:
				pn := pick()
				p := m.pkts[pn]
				if got, want := r.t.InFlight(pn), p != nil && p.inFlight; got != want {
					t.Fatalf("op %d InFlight(%d) = %v, model %v", i, pn, got, want)
				}
			}
			if r.fl.Load() != m.flight {
				t.Fatalf("op %d (%d): flight %d, model %d", i, op, r.fl.Load(), m.flight)
			}
		}
		r.checkBooks(t)
	})
}
