package wire

import (
	"bytes"
	"testing"
	"time"
)

func testParams() TransportParams {
	return TransportParams{
		ConnID:               testCID,
		IdleTimeout:          30 * time.Second,
		MaxDatagramSize:      1452,
		InitialMaxData:       1 << 24,
		InitialMaxStreamData: 1 << 20,
		MaxStreams:           100,
		MaxAckDelay:          20 * time.Millisecond,
	}
}

func TestTransportParamsBytes(t *testing.T) {
	p := testParams()
	b, err := AppendTransportParams(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x00, 8, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8,
		0x01, 4, 0x80, 0x00, 0x75, 0x30, // 30000 ms
		0x02, 2, 0x45, 0xac, // 1452
		0x03, 4, 0x81, 0x00, 0x00, 0x00, // 2^24
		0x04, 4, 0x80, 0x10, 0x00, 0x00, // 2^20
		0x05, 2, 0x40, 100,
		0x06, 1, 20,
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded %x\nwant    %x", b, want)
	}
	if p.encodedLen() != len(b) {
		t.Fatalf("encodedLen %d, wrote %d", p.encodedLen(), len(b))
	}
	got, err := ParseTransportParams(b)
	if err != nil || got != p {
		t.Fatalf("parsed %+v, %v; want %+v", got, err, p)
	}
	for i := range b {
		if i == 10 {
			continue // the conn_id parameter alone is a valid list
		}
		_, err := ParseTransportParams(b[:i])
		if i < 10 {
			wantErr(t, err, map[bool]error{true: ErrMissingParam, false: ErrTruncated}[i == 0])
		} else if err == nil {
			// A cut between parameters is a shorter valid list.
			continue
		}
	}
}

func TestTransportParamsParse(t *testing.T) {
	cid := []byte{0x00, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	def := DefaultTransportParams()
	def.ConnID = ConnID{1, 2, 3, 4, 5, 6, 7, 8}
	with := func(f func(*TransportParams)) TransportParams { p := def; f(&p); return p }
	tests := []struct {
		name string
		b    []byte
		want TransportParams
		err  error
	}{
		{"conn_id only: defaults", cid, def, nil},
		{"unknown skipped", concat([]byte{0x3f, 3, 9, 9, 9}, cid, []byte{0x80, 0, 0x40, 0, 0}), def, nil},
		{"unknown duplicate skipped", concat([]byte{0x20, 0, 0x20, 0}, cid), def, nil},
		{"non-minimal varint value", concat(cid, []byte{0x02, 2, 0x44, 0xb0}), with(func(p *TransportParams) { p.MaxDatagramSize = 1200 }), nil},
		{"max_ack_delay max", concat(cid, []byte{0x06, 2, 0x7f, 0xff}), with(func(p *TransportParams) { p.MaxAckDelay = MaxAckDelayLimit }), nil},
		{"max_streams 2^60", concat(cid, []byte{0x05, 8, 0xd0, 0, 0, 0, 0, 0, 0, 0}), with(func(p *TransportParams) { p.MaxStreams = 1 << 60 }), nil},
		{"empty", nil, TransportParams{}, ErrMissingParam},
		{"missing conn_id", []byte{0x02, 2, 0x45, 0xac}, TransportParams{}, ErrMissingParam},
		{"duplicate conn_id", concat(cid, cid), TransportParams{}, ErrDuplicateParam},
		{"duplicate known", concat(cid, []byte{0x03, 1, 1, 0x03, 1, 2}), TransportParams{}, ErrDuplicateParam},
		{"conn_id short", []byte{0x00, 7, 1, 2, 3, 4, 5, 6, 7}, TransportParams{}, ErrInvalid},
		{"value longer than its varint", concat(cid, []byte{0x03, 2, 1, 0}), TransportParams{}, ErrInvalid},
		{"value empty", concat(cid, []byte{0x03, 0}), TransportParams{}, ErrInvalid},
		{"value truncated varint", concat(cid, []byte{0x03, 1, 0x40}), TransportParams{}, ErrInvalid},
		{"length beyond input", concat(cid, []byte{0x03, 5, 1}), TransportParams{}, ErrTruncated},
		{"length 2^62-1", concat(cid, []byte{0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}), TransportParams{}, ErrTruncated},
		{"id truncated", concat(cid, []byte{0x40}), TransportParams{}, ErrTruncated},
		{"max_datagram_size 1199", concat(cid, []byte{0x02, 2, 0x44, 0xaf}), TransportParams{}, ErrInvalid},
		{"max_datagram_size 65528", concat(cid, []byte{0x02, 4, 0x80, 0, 0xff, 0xf8}), TransportParams{}, ErrInvalid},
		{"max_streams 2^60+1", concat(cid, []byte{0x05, 8, 0xd0, 0, 0, 0, 0, 0, 0, 1}), TransportParams{}, ErrInvalid},
		{"max_ack_delay 2^14", concat(cid, []byte{0x06, 4, 0x80, 0, 0x40, 0}), TransportParams{}, ErrInvalid},
		{"idle_timeout overflows Duration", concat(cid, []byte{0x01, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), TransportParams{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTransportParams(tt.b)
			wantErr(t, err, tt.err)
			if got != tt.want {
				t.Fatalf("parsed %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTransportParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		f    func(*TransportParams)
	}{
		{"negative idle timeout", func(p *TransportParams) { p.IdleTimeout = -1 }},
		{"datagram too small", func(p *TransportParams) { p.MaxDatagramSize = 1199 }},
		{"datagram too large", func(p *TransportParams) { p.MaxDatagramSize = MaxDatagramSizeLimit + 1 }},
		{"max data beyond varint", func(p *TransportParams) { p.InitialMaxData = MaxVarint + 1 }},
		{"stream data beyond varint", func(p *TransportParams) { p.InitialMaxStreamData = MaxVarint + 1 }},
		{"too many streams", func(p *TransportParams) { p.MaxStreams = MaxStreamsLimit + 1 }},
		{"ack delay 2^14 ms", func(p *TransportParams) { p.MaxAckDelay = 1 << 14 * time.Millisecond }},
		{"negative ack delay", func(p *TransportParams) { p.MaxAckDelay = -time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			tt.f(&p)
			b, err := AppendTransportParams([]byte{1}, &p)
			wantErr(t, err, ErrInvalid)
			if len(b) != 1 {
				t.Fatal("dst changed on error")
			}
			b, err = AppendHandshakeFrame([]byte{1}, &p)
			wantErr(t, err, ErrInvalid)
			if len(b) != 1 {
				t.Fatal("dst changed on error")
			}
		})
	}
	// Sub-millisecond durations are cut to whole milliseconds.
	p := testParams()
	p.IdleTimeout = 1500 * time.Microsecond
	b, _ := AppendTransportParams(nil, &p)
	got, err := ParseTransportParams(b)
	if err != nil || got.IdleTimeout != time.Millisecond {
		t.Fatalf("idle timeout 1.5ms came back as %v, %v", got.IdleTimeout, err)
	}
}

func TestHandshakeFrame(t *testing.T) {
	p := testParams()
	b, err := AppendHandshakeFrame(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	var fp FrameParser
	fp.Reset(b)
	f, err := fp.Next()
	if err != nil || f.Type != FrameHandshake {
		t.Fatalf("%v %v", f.Type, err)
	}
	got, err := ParseTransportParams(f.Handshake)
	if err != nil || got != p {
		t.Fatalf("parsed %+v, %v", got, err)
	}
}
