package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/petrel-transport/petrel/core"
)

// maxNameTries bounds the suffixes createExclusive tries.
const maxNameTries = 1000

// storedStream is where serve writes one stream's bytes: a new file in
// --out, or nowhere (f nil).
type storedStream struct {
	f *os.File
}

// open creates the file of stream id from peer (see createExclusive), or a
// discarding storedStream without --out.
func (s *server) open(peer core.PeerKey, id uint64) (*storedStream, error) {
	if s.out == "" {
		return &storedStream{}, nil
	}
	f, err := createExclusive(s.out, fmt.Sprintf("%v-%d", peer, id))
	if err != nil {
		return nil, err
	}
	return &storedStream{f: f}, nil
}

// createExclusive creates the new file dir/base, or dir/base.1, base.2, ...
// when taken: a stream never replaces an earlier file (a peer's stream ids
// start again on each connection).
func createExclusive(dir, base string) (*os.File, error) {
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil || !errors.Is(err, fs.ErrExist) {
			return f, err
		}
		if i == maxNameTries {
			return nil, fmt.Errorf("%s and %d more names are taken in %s", base, maxNameTries, dir)
		}
	}
}

func (o *storedStream) Write(p []byte) (int, error) {
	if o.f == nil {
		return len(p), nil
	}
	return o.f.Write(p)
}

// commit makes the bytes durable: fsync, then close.
func (o *storedStream) commit() error {
	if o.f == nil {
		return nil
	}
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard closes and removes a file that did not receive its whole stream,
// so that no file in --out looks complete without being so.
func (o *storedStream) discard() {
	if o.f == nil {
		return
	}
	_ = o.f.Close() // may be closed already by a failed commit
	_ = os.Remove(o.f.Name())
}

func (o *storedStream) name() string {
	if o.f == nil {
		return "(discarded)"
	}
	return o.f.Name()
}
