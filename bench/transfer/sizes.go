package transfer

// Bytes per op. A clean op moves 16 MiB: tens of milliseconds at the
// rates measured on loopback, so setup and the ramp of the congestion
// window are not what one op measures. An op of the 1%, 20 ms cell moves
// 2 MiB: a loss-based controller there moves about a MB/s (the Mathis
// bound, MSS x 1.22 / (RTT x sqrt(p)), is 0.7 MB/s for 1200-byte
// datagrams), so one op takes two or three seconds; 1 MiB ops varied by
// half from one op to the next with the loss pattern (0.8 to 1.4 MB/s
// over 4 MiB transfers with different seeds), too much for a median of a
// few rounds to settle. The other cells' sizes are in cells.
const (
	block         = 16 << 20
	impairedBlock = 2 << 20
)
