package secure

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The key file format, version 1. A UTF-8 text file:
//
//	# comment lines and blank lines are ignored
//	petrel-identity v1
//	private <64 lowercase hex digits: the X25519 private key>
//	public <64 hex digits: its public key, checked on load>
//
// The first line that is not a comment or blank must be the version line;
// each field appears once, in any order; unknown fields are an error (a key
// file is too important to half-understand). The file is written with mode
// 0600 and, on Unix, refused on load if group or others may read it, as
// OpenSSH refuses a private key with loose permissions.
const keyFileHeader = "petrel-identity v1"

// ErrKeyFile reports a key file that cannot be used: malformed, with a
// public key that does not match, or readable by others.
var ErrKeyFile = errors.New("secure: bad key file")

// MarshalKeyFile returns kp in the key file format.
func MarshalKeyFile(kp *KeyPair) []byte {
	var b bytes.Buffer
	b.WriteString("# petrel node identity (X25519). Keep this file secret: it is the node.\n")
	b.WriteString(keyFileHeader + "\n")
	fmt.Fprintf(&b, "private %x\n", kp.Private[:])
	fmt.Fprintf(&b, "public %x\n", kp.Public[:])
	return b.Bytes()
}

// ParseKeyFile parses the key file format and checks that the public key
// matches the private one.
func ParseKeyFile(data []byte) (KeyPair, error) {
	var kp KeyPair
	var sawHeader, sawPriv, sawPub bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if !sawHeader {
			if s != keyFileHeader {
				return KeyPair{}, fmt.Errorf("%w: line %d: want %q", ErrKeyFile, line, keyFileHeader)
			}
			sawHeader = true
			continue
		}
		field, value, ok := strings.Cut(s, " ")
		value = strings.TrimSpace(value)
		if !ok {
			return KeyPair{}, fmt.Errorf("%w: line %d: want \"<field> <value>\"", ErrKeyFile, line)
		}
		var dst []byte
		switch {
		case field == "private" && !sawPriv:
			dst, sawPriv = kp.Private[:], true
		case field == "public" && !sawPub:
			dst, sawPub = kp.Public[:], true
		default:
			kp.Zero()
			return KeyPair{}, fmt.Errorf("%w: line %d: unknown or repeated field %q", ErrKeyFile, line, field)
		}
		if err := decodeHexKey(dst, value); err != nil {
			kp.Zero()
			return KeyPair{}, fmt.Errorf("%w: line %d: %s: %v", ErrKeyFile, line, field, err)
		}
	}
	if err := sc.Err(); err != nil {
		return KeyPair{}, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if !sawHeader || !sawPriv || !sawPub {
		kp.Zero()
		return KeyPair{}, fmt.Errorf("%w: want the version line and both fields", ErrKeyFile)
	}
	if !kp.Valid() {
		kp.Zero()
		return KeyPair{}, fmt.Errorf("%w: the public key does not match the private key", ErrKeyFile)
	}
	return kp, nil
}

// SaveKeyPair writes kp to path atomically (a temporary file in the same
// directory, synced, then renamed over path), with mode 0600.
func SaveKeyPair(path string, kp *KeyPair) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".petrel-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	data := MarshalKeyFile(kp)
	defer clear(data)
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// LoadKeyPair reads a key file written by SaveKeyPair.
func LoadKeyPair(path string) (KeyPair, error) {
	info, err := os.Stat(path)
	if err != nil {
		return KeyPair{}, err
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return KeyPair{}, fmt.Errorf("%w: %s has mode %v; it must not be readable by group or others (chmod 600)", ErrKeyFile, path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return KeyPair{}, err
	}
	defer clear(data)
	kp, err := ParseKeyFile(data)
	if err != nil {
		return KeyPair{}, fmt.Errorf("%s: %w", path, err)
	}
	return kp, nil
}

// LoadOrCreateKeyPair loads the key file at path, or, if none exists,
// generates a key pair and saves it there. created reports which.
func LoadOrCreateKeyPair(path string) (kp KeyPair, created bool, err error) {
	kp, err = LoadKeyPair(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kp, false, err
	}
	if kp, err = GenerateKeyPair(nil); err != nil {
		return KeyPair{}, false, err
	}
	if err = SaveKeyPair(path, &kp); err != nil {
		kp.Zero()
		return KeyPair{}, false, err
	}
	return kp, true, nil
}
