package wire_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/petrel-transport/petrel/core/wire"
)

// A sender writes the header before it knows the payload size, packs
// frames into the room left, and patches the Length; the receiver splits
// the datagram, parses the header and iterates the frames. (Sealing and
// opening, core/secure's job, would happen between the two.)
func Example() {
	const datagram = 1200
	buf := make([]byte, 0, datagram)

	// Send.
	h := wire.ShortHeader{DCID: wire.ConnID{1, 2, 3, 4, 5, 6, 7, 8}, PN: 1001}
	h.PNLen = wire.PacketNumberLen(h.PN, 990, true)
	pkt := wire.AppendShortHeader(buf, &h)
	hdrLen := len(pkt)
	pkt, _ = wire.AppendAckFrame(pkt, []wire.AckRange{{Smallest: 40, Largest: 52}, {Smallest: 30, Largest: 35}}, 250, 64)
	data := []byte("hello")
	room := datagram - len(pkt) - wire.TagLen
	n := min(len(data), wire.StreamDataRoom(4, 0, room, false))
	pkt = wire.AppendStreamFrame(pkt, 4, 0, data[:n], true, false)
	pkt = append(pkt, make([]byte, wire.TagLen)...) // the AEAD tag, once sealed
	if err := wire.PutLength(pkt, len(pkt)-hdrLen+h.PNLen); err != nil {
		panic(err)
	}

	// Receive.
	one, _, err := wire.SplitPacket(pkt)
	if err != nil {
		panic(err)
	}
	rh, rhLen, err := wire.ParseShortHeader(one)
	if err != nil {
		panic(err)
	}
	fmt.Println("pn", wire.DecodePacketNumber(1000, rh.PN, rh.PNLen))
	var p wire.FrameParser
	p.Reset(one[rhLen : len(one)-wire.TagLen])
	for {
		f, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		switch f.Type {
		case wire.FrameAck:
			for r := range f.Ack.All() {
				fmt.Println("acked", r.Smallest, "to", r.Largest)
			}
		case wire.FrameStream:
			fmt.Printf("stream %d: %q fin=%v\n", f.Stream.ID, f.Stream.Data, f.Stream.Fin)
		}
	}
	// Output:
	// pn 1001
	// acked 40 to 52
	// acked 30 to 35
	// stream 4: "hello" fin=true
}
