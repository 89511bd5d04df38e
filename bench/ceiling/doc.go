// Package ceiling measures the physical limit of an encrypted transport on
// this machine: AEAD sealing on one goroutine and opening on another, of
// 1200-byte packets (petrel's datagram size), with no network, no copying
// beyond the cipher's and no framing. BenchmarkCeiling/{aes-128-gcm,
// chacha20-poly1305} reports MB/s of plaintext; bench/report states
// petrel's goodput as a fraction of the aes-128-gcm line. The names are
// fixed: bench/report looks the lines up by name.
//
// A run is a pipeline (pipeline.go): the sealer fills batches of 64
// packets, each sealed under a nonce made from its packet number XORed
// into a per-key IV with a 16-byte header as associated data, as petrel's
// packet protection does (core/secure); the opener opens and so
// authenticates every packet of a batch, checks its packet number, and
// hands the batch back. Batches circulate through two bounded channels,
// preallocated, so a hand-off costs one channel operation per 64 packets
// and the cipher, not the channel, is the limit.
//
// Invariants: every packet sealed is opened, in order, and a packet that
// fails to open fails the run; a run allocates nothing per packet, and its
// goroutine has ended when it returns.
package ceiling
