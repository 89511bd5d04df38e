package session

import "sync"

// sentRecord is what one ack-eliciting packet carried, for the ACK and loss
// paths: the tracker keeps the packet's bytes and state, the record its
// content.
type sentRecord struct {
	used       bool
	fin        bool    // the stream frame carried a FIN
	maxData    bool    // a MAX_DATA frame
	maxStreams bool    // a MAX_STREAMS frame
	ctlGrant   bool    // ctl's MAX_STREAM_DATA
	ctlAbort   bool    // ctl's STREAM_ABORT
	mtuProbe   bool    // a path MTU probe (pmtud.go): n is its size, size 0 (it holds no flight)
	n          uint32  // stream bytes
	size       uint32  // the packet's bytes (what it holds in flight)
	off        uint64  // stream offset
	st         *Stream // the stream whose data [off, off+n) it carried; nil: none
	ctl        *Stream // the stream whose control frames it carried
}

// sentLog holds the records of the packets in the tracker, indexed by packet
// number: a ring from base (the oldest packet number that may still have a
// record) up to end (one past the newest). Packet numbers of ACK-only packets
// have no record. The ring is released when it empties, so an idle session
// holds none.
//
// Not safe for concurrent use: the session's mu guards it.
type sentLog struct {
	recs  []sentRecord // ring; len is a power of two or 0
	base  uint64
	end   uint64
	count int
}

// put records rec for pn (pn >= end).
func (l *sentLog) put(pn uint64, rec sentRecord) {
	if l.count == 0 {
		l.base, l.end = pn, pn
	}
	if pn < l.end {
		panic("session: packet numbers must be recorded in order")
	}
	for pn-l.base >= uint64(len(l.recs)) {
		l.grow()
	}
	rec.used = true
	l.recs[pn&uint64(len(l.recs)-1)] = rec
	l.end = pn + 1
	l.count++
}

func (l *sentLog) grow() {
	if l.recs == nil {
		l.recs = smallLogs.Get().(*[minLog]sentRecord)[:]
		return
	}
	n := 2 * len(l.recs)
	recs := make([]sentRecord, n)
	for pn := l.base; pn < l.end; pn++ {
		recs[pn&uint64(n-1)] = l.recs[pn&uint64(len(l.recs)-1)]
	}
	l.recs = recs
}

// isMTUProbe reports whether pn's record is a path MTU probe's.
func (l *sentLog) isMTUProbe(pn uint64) bool {
	if l.count == 0 || pn < l.base || pn >= l.end {
		return false
	}
	r := &l.recs[pn&uint64(len(l.recs)-1)]
	return r.used && r.mtuProbe
}

// take removes and returns pn's record.
func (l *sentLog) take(pn uint64) (sentRecord, bool) {
	if l.count == 0 || pn < l.base || pn >= l.end {
		return sentRecord{}, false
	}
	i := pn & uint64(len(l.recs)-1)
	rec := l.recs[i]
	if !rec.used {
		return sentRecord{}, false
	}
	l.recs[i] = sentRecord{}
	l.count--
	if l.count == 0 {
		l.base, l.end = 0, 0
		l.release()
		return rec, true
	}
	if pn == l.base {
		mask := uint64(len(l.recs) - 1)
		for l.base < l.end && !l.recs[l.base&mask].used {
			l.base++
		}
	}
	return rec, true
}

// release gives an empty log's ring back: the small ones to a node-wide
// pool (a request-response session empties its log after every exchange),
// the large ones to the collector. An idle session holds none.
func (l *sentLog) release() {
	if len(l.recs) == minLog {
		smallLogs.Put((*[minLog]sentRecord)(l.recs))
	}
	l.recs = nil
}

// minLog is the smallest ring: 64 records, 2 KiB.
const minLog = 64

var smallLogs = sync.Pool{New: func() any { return new([minLog]sentRecord) }}

// bounds returns [base, end): the packet numbers that may hold records.
func (l *sentLog) bounds() (uint64, uint64) { return l.base, l.end }
