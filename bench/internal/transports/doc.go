// Package transports opens the endpoints the end-to-end benchmarks of the
// bench module compare, all on 127.0.0.1, so every benchmark measures the
// same setup of each transport: petrel nodes (any I/O driver), quic-go with
// TLS 1.3 and a self-signed certificate made in memory, and TCP.
//
// It only opens endpoints; what runs over them (messages, streams) is the
// concern of each benchmark package. Every function that opens something
// returns what closes it; nothing here keeps state but the TLS
// configurations, made once per process.
package transports
