package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// frameCase is one encoded frame, its exact bytes where the layout fixes
// them, and the frame the parser must return.
type frameCase struct {
	name string
	enc  []byte
	want []byte // exact encoding; nil to skip the comparison
	f    Frame
	// prefixesFail: every strict prefix must fail with ErrTruncated (false
	// for frames that run to the end of the payload, whose prefixes past
	// the header are shorter valid frames).
	prefixesFail bool
}

func frameCases() []frameCase {
	data := []byte("hello, petrel")
	long := bytes.Repeat([]byte{0xab}, 300)
	ack, _ := AppendAckFrame(nil, []AckRange{{90, 100}, {70, 80}, {0, 0}}, 300, 100)
	return []frameCase{
		{"PADDING 1", AppendPadding(nil, 1), []byte{0}, Frame{Type: FramePadding, PaddingLen: 1}, true},
		{"PADDING run", AppendPadding(nil, 40), make([]byte, 40), Frame{Type: FramePadding, PaddingLen: 40}, false},
		{"PING", AppendPing(nil), []byte{0x01}, Frame{Type: FramePing}, true},
		{"ACK", ack,
			[]byte{0x02, 0x40, 100, 0x41, 0x2c, 2, 10, 8, 10, 0x40, 68, 0},
			Frame{Type: FrameAck, Ack: AckFrame{Largest: 100, DelayMicros: 300}}, true},
		{"STREAM plain", AppendStreamFrame(nil, 4, 0, data, false, false),
			append([]byte{0x08, 4}, data...),
			Frame{Type: FrameStream, Stream: StreamFrame{ID: 4, Data: data}}, false},
		{"STREAM off len fin", AppendStreamFrame(nil, 1000, 70000, data, true, true),
			append([]byte{0x0f, 0x43, 0xe8, 0x80, 0x01, 0x11, 0x70, 13}, data...),
			Frame{Type: FrameStream, Stream: StreamFrame{ID: 1000, Offset: 70000, Data: data, Fin: true}}, true},
		{"STREAM len only", AppendStreamFrame(nil, 8, 0, long, false, true),
			append([]byte{0x0a, 8, 0x41, 0x2c}, long...),
			Frame{Type: FrameStream, Stream: StreamFrame{ID: 8, Data: long}}, true},
		{"STREAM empty fin", AppendStreamFrame(nil, 8, 99, nil, true, true),
			[]byte{0x0f, 8, 0x40, 99, 0},
			Frame{Type: FrameStream, Stream: StreamFrame{ID: 8, Offset: 99, Fin: true}}, true},
		{"STREAM at 2^62-1", AppendStreamFrame(nil, MaxVarint, MaxVarint-1, []byte{1}, false, true), nil,
			Frame{Type: FrameStream, Stream: StreamFrame{ID: MaxVarint, Offset: MaxVarint - 1, Data: []byte{1}}}, true},
		{"STREAM_ABORT", AppendStreamAbortFrame(nil, 4, 7, 1<<20),
			[]byte{0x04, 4, 7, 0x80, 0x10, 0x00, 0x00},
			Frame{Type: FrameStreamAbort, StreamAbort: StreamAbortFrame{ID: 4, ErrorCode: 7, FinalSize: 1 << 20}}, true},
		{"MAX_DATA", AppendMaxDataFrame(nil, 1<<40),
			[]byte{0x10, 0xc0, 0, 0x01, 0, 0, 0, 0, 0},
			Frame{Type: FrameMaxData, MaxData: 1 << 40}, true},
		{"MAX_STREAM_DATA", AppendMaxStreamDataFrame(nil, 12, 65536),
			[]byte{0x11, 12, 0x80, 0x01, 0x00, 0x00},
			Frame{Type: FrameMaxStreamData, MaxStreamData: MaxStreamDataFrame{ID: 12, Maximum: 65536}}, true},
		{"MAX_STREAMS", AppendMaxStreamsFrame(nil, 100), []byte{0x12, 0x40, 100},
			Frame{Type: FrameMaxStreams, MaxStreams: 100}, true},
		{"MAX_STREAMS at 2^60", AppendMaxStreamsFrame(nil, MaxStreamsLimit),
			[]byte{0x12, 0xd0, 0, 0, 0, 0, 0, 0, 0},
			Frame{Type: FrameMaxStreams, MaxStreams: MaxStreamsLimit}, true},
		{"MESSAGE to end", AppendMessageFrame(nil, data, false),
			append([]byte{0x30}, data...),
			Frame{Type: FrameMessage, Message: data}, false},
		{"MESSAGE with length", AppendMessageFrame(nil, data, true),
			append([]byte{0x31, 13}, data...),
			Frame{Type: FrameMessage, Message: data}, true},
		{"MESSAGE empty", AppendMessageFrame(nil, nil, true), []byte{0x31, 0},
			Frame{Type: FrameMessage}, true},
		{"CLOSE", AppendCloseFrame(nil, 3, "bye"), []byte{0x1c, 3, 3, 'b', 'y', 'e'},
			Frame{Type: FrameClose, Close: CloseFrame{ErrorCode: 3, Reason: []byte("bye")}}, true},
		{"CLOSE reason cut", AppendCloseFrame(nil, 0, strings.Repeat("x", MaxReasonLen+10)), nil,
			Frame{Type: FrameClose, Close: CloseFrame{Reason: bytes.Repeat([]byte("x"), MaxReasonLen)}}, true},
		{"HANDSHAKE", mustHandshake(), nil,
			Frame{Type: FrameHandshake, Handshake: mustHandshake()[2:]}, true},
	}
}

func mustHandshake() []byte {
	p := DefaultTransportParams()
	p.ConnID = testCID
	p.InitialMaxData = 1 << 20
	b, err := AppendHandshakeFrame(nil, &p)
	if err != nil {
		panic(err)
	}
	return b
}

func TestFrames(t *testing.T) {
	for _, tt := range frameCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != nil && !bytes.Equal(tt.enc, tt.want) {
				t.Fatalf("encoded %x, want %x", tt.enc, tt.want)
			}
			var p FrameParser
			p.Reset(tt.enc)
			f, err := p.Next()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Next(); err == nil {
				t.Fatal("more than one frame")
			}
			got, want := canon(f), canon(tt.f)
			if tt.f.Type == FrameAck {
				want.AckRanges = []AckRange{{90, 100}, {70, 80}, {0, 0}}
			}
			if !equalFrames([]canonFrame{got}, []canonFrame{want}) {
				t.Fatalf("parsed %+v\nwant   %+v", got, want)
			}
			if err := reencode(t, tt.enc); err != nil {
				t.Fatal(err)
			}
			if !tt.prefixesFail {
				return
			}
			for i := 1; i < len(tt.enc); i++ {
				_, err := parseAll(tt.enc[:i])
				wantErr(t, err, ErrTruncated)
			}
		})
	}
}

// TestFramesSequence parses every case back to back in one payload.
func TestFramesSequence(t *testing.T) {
	var payload []byte
	var want []canonFrame
	for _, tt := range frameCases() {
		if !tt.prefixesFail {
			continue // runs to the end (or merges with other padding)
		}
		payload = append(payload, tt.enc...)
		f := tt.f
		w := canon(f)
		if f.Type == FrameAck {
			w.AckRanges = []AckRange{{90, 100}, {70, 80}, {0, 0}}
		}
		want = append(want, w)
	}
	payload = AppendStreamFrame(payload, 1, 2, []byte("tail"), true, false)
	want = append(want, canonFrame{Type: FrameStream, Stream: canonStream{1, 2, "tail", true}})
	got, err := parseAll(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !equalFrames(got, want) {
		t.Fatalf("parsed %+v\nwant   %+v", got, want)
	}
}

func TestFramesMalformed(t *testing.T) {
	max8 := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // 2^62-1
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"type 0x03 (ACK_ECN)", []byte{0x03}, ErrUnknownFrame},
		{"type 0x05", []byte{0x05, 1, 1}, ErrUnknownFrame},
		{"type 0x07", []byte{0x07}, ErrUnknownFrame},
		{"type 0x13 (MAX_STREAMS unidirectional)", []byte{0x13, 1}, ErrUnknownFrame},
		{"type 0x1d", []byte{0x1d}, ErrUnknownFrame},
		{"type 0x32", []byte{0x32}, ErrUnknownFrame},
		{"type 0x40 (2-byte varint)", []byte{0x40, 0x01}, ErrUnknownFrame},
		{"type 0xff", []byte{0xff}, ErrUnknownFrame},
		{"after a good frame", []byte{0x01, 0x00, 0x00, 0x3f}, ErrUnknownFrame},
		{"ACK first range below 0", []byte{0x02, 5, 0, 0, 6}, ErrInvalid},
		{"ACK gap below 0", []byte{0x02, 10, 0, 1, 2, 7, 0}, ErrInvalid},
		{"ACK gap to exactly -1", []byte{0x02, 10, 0, 1, 2, 7 - 1, 0}, nil},
		{"ACK length below 0", []byte{0x02, 10, 0, 1, 2, 0, 7}, ErrInvalid},
		{"ACK count 2^62-1", append([]byte{0x02, 10, 0}, append(max8, 0, 0, 0)...), ErrTruncated},
		{"ACK count beyond pairs", []byte{0x02, 10, 0, 2, 0, 0, 0}, ErrTruncated},
		{"STREAM length 2^62-1", append([]byte{0x0a, 1}, append(max8, 1, 2, 3)...), ErrTruncated},
		{"STREAM length beyond payload", []byte{0x0a, 1, 4, 1, 2, 3}, ErrTruncated},
		{"STREAM offset+length beyond 2^62-1", append(append([]byte{0x0e, 1}, max8...), 1, 0xaa), ErrInvalid},
		{"STREAM offset 2^62-1, no data", append(append([]byte{0x0e, 1}, max8...), 0), nil},
		{"STREAM to end beyond 2^62-1", append(append([]byte{0x0c, 1}, max8...), 0xaa), ErrInvalid},
		{"MESSAGE length 2^62-1", append([]byte{0x31}, append(max8, 1)...), ErrTruncated},
		{"MAX_STREAMS 2^60+1", []byte{0x12, 0xd0, 0, 0, 0, 0, 0, 0, 1}, ErrInvalid},
		{"MAX_STREAMS 2^62-1", append([]byte{0x12}, max8...), ErrInvalid},
		{"CLOSE reason too long", append([]byte{0x1c, 0, 0x41, 0x01}, make([]byte, MaxReasonLen+1)...), ErrInvalid},
		{"CLOSE reason 2^62-1", append([]byte{0x1c, 0}, max8...), ErrInvalid},
		{"HANDSHAKE length 2^62-1", append([]byte{0x06}, max8...), ErrTruncated},
		{"HANDSHAKE length beyond payload", []byte{0x06, 3, 1, 2}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseAll(tt.b)
			wantErr(t, err, tt.err)
		})
	}
}

// TestMaxStreamsFrame: the count round-trips up to MaxStreamsLimit and is
// refused above it (RFC 9000 section 19.11), wherever the frame sits.
func TestMaxStreamsFrame(t *testing.T) {
	limit := AppendMaxStreamsFrame(nil, MaxStreamsLimit)
	tests := []struct {
		name string
		b    []byte
		want uint64 // the parsed count, when err is nil
		err  error
		off  int // the FormatError's offset, when err is not nil
	}{
		{"zero", AppendMaxStreamsFrame(nil, 0), 0, nil, 0},
		{"63 (1-byte varint)", AppendMaxStreamsFrame(nil, 63), 63, nil, 0},
		{"1<<20", AppendMaxStreamsFrame(nil, 1<<20), 1 << 20, nil, 0},
		{"non-minimal varint", []byte{0x12, 0x80, 0, 0, 5}, 5, nil, 0},
		{"limit 2^60", limit, MaxStreamsLimit, nil, 0},
		{"limit after PING", concat([]byte{0x01}, limit), MaxStreamsLimit, nil, 0},
		{"2^60+1", AppendMaxStreamsFrame(nil, MaxStreamsLimit+1), 0, ErrInvalid, 0},
		{"2^62-1", AppendMaxStreamsFrame(nil, MaxVarint), 0, ErrInvalid, 0},
		{"2^60+1 after PING", AppendMaxStreamsFrame([]byte{0x01}, MaxStreamsLimit+1), 0, ErrInvalid, 1},
		{"no count", []byte{0x12}, 0, ErrTruncated, 0},
		{"count cut", limit[:5], 0, ErrTruncated, 0},
		{"count cut after PING", concat([]byte{0x01}, limit[:8]), 0, ErrTruncated, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAll(tt.b)
			wantErr(t, err, tt.err)
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Where != "MAX_STREAMS frame" || fe.Offset != tt.off {
					t.Fatalf("error %v, want one at the MAX_STREAMS frame at offset %d", err, tt.off)
				}
				return
			}
			last := got[len(got)-1]
			if last.Type != FrameMaxStreams || last.MaxStreams != tt.want {
				t.Fatalf("parsed %+v, want MAX_STREAMS %d", last, tt.want)
			}
			if err := reencode(t, tt.b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFrameParserSticky(t *testing.T) {
	var p FrameParser
	p.Reset([]byte{0x01, 0x3f, 0x01})
	if f, err := p.Next(); err != nil || f.Type != FramePing {
		t.Fatalf("first frame: %v %v", f.Type, err)
	}
	_, err1 := p.Next()
	_, err2 := p.Next()
	wantErr(t, err1, ErrUnknownFrame)
	if err2 != err1 {
		t.Fatalf("error not sticky: %v then %v", err1, err2)
	}
	p.Reset(nil)
	if _, err := p.Next(); err == nil || err == err1 {
		t.Fatalf("after Reset(nil): %v, want io.EOF", err)
	}
	var zero FrameParser
	if _, err := zero.Next(); err == nil {
		t.Fatal("zero FrameParser returned a frame")
	}
}

func TestStreamDataRoom(t *testing.T) {
	for _, withLength := range []bool{false, true} {
		for _, offset := range []uint64{0, 1, 1 << 20, MaxVarint - 1<<20} {
			for room := 0; room < 20000; room += 1 + room/64 {
				n := StreamDataRoom(77, offset, room, withLength)
				if n < 0 {
					t.Fatalf("room %d: %d", room, n)
				}
				hdr := StreamFrameHeaderLen(77, offset, n, withLength)
				if n > 0 && hdr+n > room {
					t.Fatalf("room %d, offset %d, withLength %v: %d bytes of data need %d", room, offset, withLength, n, hdr+n)
				}
				// One byte more must not fit.
				if hdr1 := StreamFrameHeaderLen(77, offset, n+1, withLength); hdr1+n+1 <= room {
					t.Fatalf("room %d, offset %d, withLength %v: %d fits, but so does %d", room, offset, withLength, n, n+1)
				}
				if n > 0 {
					enc := AppendStreamFrame(nil, 77, offset, make([]byte, n), false, withLength)
					if len(enc) != hdr+n {
						t.Fatalf("AppendStreamFrame wrote %d, StreamFrameHeaderLen says %d", len(enc), hdr+n)
					}
				}
			}
		}
	}
}

func TestMessageFrameLen(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 16383, 16384} {
		for _, wl := range []bool{false, true} {
			if got, want := MessageFrameLen(n, wl), len(AppendMessageFrame(nil, make([]byte, n), wl)); got != want {
				t.Errorf("MessageFrameLen(%d, %v) = %d, want %d", n, wl, got, want)
			}
		}
	}
}

func TestFrameTypeString(t *testing.T) {
	for _, tt := range []struct {
		t         FrameType
		s         string
		eliciting bool
	}{
		{FramePadding, "PADDING", false}, {FramePing, "PING", true}, {FrameAck, "ACK", false},
		{FrameStreamAbort, "STREAM_ABORT", true}, {FrameHandshake, "HANDSHAKE", true},
		{FrameStream, "STREAM", true}, {FrameMaxData, "MAX_DATA", true},
		{FrameMaxStreamData, "MAX_STREAM_DATA", true}, {FrameMaxStreams, "MAX_STREAMS", true},
		{FrameClose, "CLOSE", false},
		{FrameMessage, "MESSAGE", true}, {0x3f, "FrameType(0x3f)", true},
	} {
		if tt.t.String() != tt.s || tt.t.AckEliciting() != tt.eliciting {
			t.Errorf("%#x: %q %v, want %q %v", uint8(tt.t), tt.t.String(), tt.t.AckEliciting(), tt.s, tt.eliciting)
		}
	}
}

func TestAppendPaddingNonPositive(t *testing.T) {
	for _, n := range []int{0, -1} {
		if b := AppendPadding([]byte{7}, n); len(b) != 1 {
			t.Errorf("AppendPadding(%d) wrote %d bytes", n, len(b)-1)
		}
	}
}
