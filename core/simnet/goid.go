package simnet

import (
	"bytes"
	"runtime"
	"strconv"
)

// goid returns the id of the calling goroutine, parsed from the first line
// of its stack trace ("goroutine 18 [running]:"). Go hides goroutine ids on
// purpose; simnet needs one only so that Endpoint.Close can tell a call from
// inside its own Handler, where waiting for the Handler would deadlock, from
// any other. It is called once per delivery goroutine and once per Close,
// never per datagram.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("simnet: cannot parse the goroutine id from " + strconv.Quote(string(buf[:])))
	}
	return id
}
