package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/petrel-transport/petrel/core/secure"
)

const keygenHelp = `keygen makes a node identity, an X25519 key pair, and writes it to --out;
it prints the public key, which senders dial the node by. ` + "`petrel serve --identity FILE`" + `
uses the file, so that the node keeps its key across restarts.

Example: petrel keygen --out server.key
`

func keygenFlags(fs *flag.FlagSet) func(context.Context, io.Writer) error {
	out := fs.String("out", "petrel.key", "file to write the key pair to (created with mode 0600; never overwritten)")
	return func(_ context.Context, w io.Writer) error {
		if *out == "" {
			return errors.New("--out is empty")
		}
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("%s exists: choose another --out (a key file is never overwritten)", *out)
		}
		kp, err := secure.GenerateKeyPair(nil)
		if err != nil {
			return err
		}
		defer kp.Zero()
		if err := secure.SaveKeyPair(*out, &kp); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\npublic key: %v\n", *out, kp.Public)
		return nil
	}
}
