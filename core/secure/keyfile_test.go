package secure_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/petrel-transport/petrel/core/secure"
)

func TestKeyFileRoundTrip(t *testing.T) {
	kp, err := secure.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "node.key")
	if err := secure.SaveKeyPair(path, &kp); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", info.Mode().Perm())
	}
	got, err := secure.LoadKeyPair(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != kp {
		t.Fatal("loaded key pair differs")
	}
	got2, created, err := secure.LoadOrCreateKeyPair(path)
	if err != nil || created || got2 != kp {
		t.Fatalf("LoadOrCreate of an existing file: created %v err %v", created, err)
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.key")
	kp, created, err := secure.LoadOrCreateKeyPair(path)
	if err != nil || !created || !kp.Valid() {
		t.Fatalf("created %v err %v", created, err)
	}
	again, created, err := secure.LoadOrCreateKeyPair(path)
	if err != nil || created || again != kp {
		t.Fatalf("second call: created %v err %v", created, err)
	}
}

func TestKeyFileLoosePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	kp := keyPair(t, "k")
	path := filepath.Join(t.TempDir(), "node.key")
	if err := secure.SaveKeyPair(path, &kp); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secure.LoadKeyPair(path); !errors.Is(err, secure.ErrKeyFile) {
		t.Fatalf("world-readable key file: %v", err)
	}
	if _, err := secure.LoadKeyPair(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
}

func TestParseKeyFile(t *testing.T) {
	kp := keyPair(t, "k")
	good := string(secure.MarshalKeyFile(&kp))
	if got, err := secure.ParseKeyFile([]byte(good)); err != nil || got != kp {
		t.Fatalf("good file: %v", err)
	}
	other := keyPair(t, "other")
	lines := strings.Split(strings.TrimSpace(good), "\n")
	header, priv, pub := lines[1], lines[2], lines[3]
	cases := map[string]string{
		"empty":             "",
		"no header":         priv + "\n" + pub,
		"wrong version":     "petrel-identity v2\n" + priv + "\n" + pub,
		"missing public":    header + "\n" + priv,
		"missing private":   header + "\n" + pub,
		"repeated field":    header + "\n" + priv + "\n" + priv + "\n" + pub,
		"unknown field":     header + "\n" + priv + "\n" + pub + "\ncolour blue",
		"short hex":         header + "\nprivate abcd\n" + pub,
		"not hex":           header + "\nprivate " + strings.Repeat("zz", 32) + "\n" + pub,
		"no value":          header + "\nprivate\n" + pub,
		"mismatched public": header + "\n" + priv + "\npublic " + other.Public.String(),
		"zero private":      header + "\nprivate " + strings.Repeat("00", 32) + "\n" + pub,
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := secure.ParseKeyFile([]byte(text)); !errors.Is(err, secure.ErrKeyFile) {
				t.Fatalf("got %v", err)
			}
		})
	}
	// Comments, blank lines, field order and surrounding space are free.
	loose := "\n# mine\n  " + header + "  \n\n" + pub + "\n# x\n" + priv + "\n"
	if got, err := secure.ParseKeyFile([]byte(loose)); err != nil || got != kp {
		t.Fatalf("loose layout: %v", err)
	}
}

func TestPublicKeyText(t *testing.T) {
	kp := keyPair(t, "k")
	got, err := secure.ParsePublicKey(kp.Public.String())
	if err != nil || got != kp.Public {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := secure.ParsePublicKey("abc"); err == nil {
		t.Fatal("short key parsed")
	}
	if !bytes.Equal(got[:], kp.Public[:]) || got.IsZero() {
		t.Fatal("parsed key")
	}
}

func TestKeyPairZero(t *testing.T) {
	kp := keyPair(t, "k")
	kp.Zero()
	if kp.Private != ([32]byte{}) || kp.Valid() {
		t.Fatal("Zero left the private key")
	}
	if _, err := secure.NewKeyPair([32]byte{}); !errors.Is(err, secure.ErrInvalidKey) {
		t.Fatalf("zero private key: %v", err)
	}
}
