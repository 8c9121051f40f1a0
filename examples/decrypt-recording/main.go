// Command decrypt-recording turns a recording encrypted by outcall (pkg/secure) back into a WAV file, for a user
// who holds the key-encryption key.
//
//	go run ./examples/decrypt-recording -key kek.key -in out/recordings/call-42.wav.enc -out call-42.wav
//
// Every chunk is authenticated before it is written: a modified, truncated or reordered file is refused with the
// reason, and the partial output is removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/outcall/outcall/pkg/secure"
)

func main() {
	keyFiles := flag.String("key", "", "key file(s) holding the key-encryption key, comma separated (required)")
	in := flag.String("in", "", "encrypted recording (required)")
	out := flag.String("out", "", "WAV file to write (required)")
	flag.Parse()
	if err := run(*keyFiles, *in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "decrypt-recording:", err)
		os.Exit(1)
	}
}

func run(keyFiles, in, out string) error {
	if keyFiles == "" || in == "" || out == "" {
		return errors.New("-key, -in and -out are required")
	}
	keys := secure.NewLocalKeys()
	for _, kf := range splitComma(keyFiles) {
		if _, err := keys.LoadKeyFile(kf); err != nil {
			return err
		}
	}
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	r, err := secure.NewReader(context.Background(), src, keys)
	if err != nil {
		return err
	}
	dst, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(dst, r)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("%s: %w", in, err)
	}
	fmt.Printf("wrote %s (%d bytes, key %s)\n", out, n, r.KeyID)
	return nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
