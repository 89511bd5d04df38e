package secure

// Temporary stand-in for the packet-protection half, built on a parallel
// branch; the merge removes this file.

type AEAD uint8

const (
	AES128GCM AEAD = iota + 1
	ChaCha20Poly1305
)

func DefaultAEAD() AEAD { return AES128GCM }

type ProtectorConfig struct{}
type Protector struct{}

func NewProtector(a AEAD, s, r *[32]byte, cfg ProtectorConfig) (*Protector, error) {
	return &Protector{}, nil
}
