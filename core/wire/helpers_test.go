package wire

import (
	"errors"
	"io"
	"math"
	"reflect"
	"testing"
)

// canonFrame is a Frame in comparable form: byte fields as strings (so nil
// and empty are equal) and ACK ranges expanded.
type canonFrame struct {
	Type          FrameType
	PaddingLen    int
	AckLargest    uint64
	AckDelay      uint64
	AckRanges     []AckRange
	Stream        canonStream
	StreamAbort   StreamAbortFrame
	MaxData       uint64
	MaxStreamData MaxStreamDataFrame
	MaxStreams    uint64
	CloseCode     uint64
	Reason        string
	Message       string
	Handshake     string
}

type canonStream struct {
	ID, Offset uint64
	Data       string
	Fin        bool
}

func canon(f Frame) canonFrame {
	c := canonFrame{
		Type:          f.Type,
		PaddingLen:    f.PaddingLen,
		AckLargest:    f.Ack.Largest,
		AckDelay:      f.Ack.DelayMicros,
		Stream:        canonStream{f.Stream.ID, f.Stream.Offset, string(f.Stream.Data), f.Stream.Fin},
		StreamAbort:   f.StreamAbort,
		MaxData:       f.MaxData,
		MaxStreamData: f.MaxStreamData,
		MaxStreams:    f.MaxStreams,
		CloseCode:     f.Close.ErrorCode,
		Reason:        string(f.Close.Reason),
		Message:       string(f.Message),
		Handshake:     string(f.Handshake),
	}
	for r := range f.Ack.All() {
		c.AckRanges = append(c.AckRanges, r)
	}
	return c
}

// parseAll returns every frame of payload in canonical form, or the
// parser's error.
func parseAll(payload []byte) ([]canonFrame, error) {
	var p FrameParser
	p.Reset(payload)
	var out []canonFrame
	for {
		f, err := p.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, canon(f))
	}
}

// appendFrame re-encodes a parsed frame with the package's encoders
// (always with explicit lengths, so the frame may be followed by others).
func appendFrame(tb testing.TB, dst []byte, f Frame) []byte {
	tb.Helper()
	switch f.Type {
	case FramePadding:
		return AppendPadding(dst, f.PaddingLen)
	case FramePing:
		return AppendPing(dst)
	case FrameAck:
		var ranges []AckRange
		for r := range f.Ack.All() {
			ranges = append(ranges, r)
		}
		out, n := AppendAckFrame(dst, ranges, f.Ack.DelayMicros, math.MaxInt)
		if n != len(ranges) {
			tb.Fatalf("AppendAckFrame encoded %d of %d parsed ranges %v", n, len(ranges), ranges)
		}
		return out
	case FrameStream:
		s := f.Stream
		return AppendStreamFrame(dst, s.ID, s.Offset, s.Data, s.Fin, true)
	case FrameStreamAbort:
		a := f.StreamAbort
		return AppendStreamAbortFrame(dst, a.ID, a.ErrorCode, a.FinalSize)
	case FrameMaxData:
		return AppendMaxDataFrame(dst, f.MaxData)
	case FrameMaxStreamData:
		return AppendMaxStreamDataFrame(dst, f.MaxStreamData.ID, f.MaxStreamData.Maximum)
	case FrameMaxStreams:
		return AppendMaxStreamsFrame(dst, f.MaxStreams)
	case FrameClose:
		return AppendCloseFrame(dst, f.Close.ErrorCode, string(f.Close.Reason))
	case FrameMessage:
		return AppendMessageFrame(dst, f.Message, true)
	case FrameHandshake:
		// The parser keeps the parameters raw; write the layout directly.
		dst = append(dst, byte(FrameHandshake))
		dst = AppendVarint(dst, uint64(len(f.Handshake)))
		return append(dst, f.Handshake...)
	}
	tb.Fatalf("appendFrame: type %v", f.Type)
	return nil
}

// reencode parses payload, re-encodes every frame and checks the result
// parses to the same frames. It returns the parse error of payload.
func reencode(tb testing.TB, payload []byte) error {
	tb.Helper()
	want, err := parseAll(payload)
	var p FrameParser
	p.Reset(payload)
	var out []byte
	for {
		f, err := p.Next()
		if err != nil {
			break
		}
		out = appendFrame(tb, out, f)
	}
	got, err2 := parseAll(out)
	if err2 != nil {
		tb.Fatalf("re-encoded frames do not parse: %v\nin:  %x\nout: %x", err2, payload, out)
	}
	if !equalFrames(got, want) {
		tb.Fatalf("re-encoded frames differ:\nwant %+v\ngot  %+v", want, got)
	}
	return err
}

func equalFrames(a, b []canonFrame) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// wantErr checks err is a *FormatError wrapping target (or nil if target
// is nil).
func wantErr(tb testing.TB, err, target error) {
	tb.Helper()
	if target == nil {
		if err != nil {
			tb.Fatalf("unexpected error %v", err)
		}
		return
	}
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, target) {
		tb.Fatalf("error %v (%T), want a *FormatError wrapping %v", err, err, target)
	}
}

// The benchmark packet: 1200 bytes holding an ACK of 32 ranges and a
// STREAM frame filling the rest, then a 16-byte stand-in for the AEAD tag.
const benchSize = 1200

func benchRanges() []AckRange {
	ranges := make([]AckRange, 32)
	hi := uint64(1_000_000)
	for i := range ranges {
		ranges[i] = AckRange{Smallest: hi - 5, Largest: hi}
		hi -= 5 + 2 + uint64(i) // gaps that grow, some needing 2-byte varints
	}
	return ranges
}

// encodeBenchPacket writes the benchmark packet into dst[:0].
func encodeBenchPacket(dst []byte, ranges []AckRange, data []byte) []byte {
	h := ShortHeader{DCID: ConnID{1, 2, 3, 4, 5, 6, 7, 8}, PN: 1_000_123, PNLen: 2}
	dst = AppendShortHeader(dst[:0], &h)
	dst, _ = AppendAckFrame(dst, ranges, 1234, benchSize-len(dst)-TagLen)
	const id, offset = 4, 1 << 20
	n := StreamDataRoom(id, offset, benchSize-len(dst)-TagLen, false)
	dst = AppendStreamFrame(dst, id, offset, data[:n], false, false)
	var tag [TagLen]byte
	dst = append(dst, tag[:]...)
	_ = PutLength(dst, len(dst)-ShortHeaderLen(0))
	return dst
}

// decodeBenchPacket parses the header and every frame, walking all ACK
// ranges; it returns a checksum so nothing is optimised away.
func decodeBenchPacket(p *FrameParser, pkt []byte) (uint64, error) {
	h, hdrLen, err := ParseShortHeader(pkt)
	if err != nil {
		return 0, err
	}
	p.Reset(pkt[hdrLen : hdrLen-h.PNLen+h.Length-TagLen])
	sum := h.PN
	for {
		f, err := p.Next()
		if err == io.EOF {
			return sum, nil
		}
		if err != nil {
			return 0, err
		}
		switch f.Type {
		case FrameAck:
			it := f.Ack.Ranges()
			for r, ok := it.Next(); ok; r, ok = it.Next() {
				sum += r.Largest - r.Smallest
			}
		case FrameStream:
			sum += uint64(len(f.Stream.Data))
		}
	}
}
