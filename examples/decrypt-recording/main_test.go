package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/outcall/outcall/pkg/secure"
)

func TestDecryptRecordingCommand(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "kek.key")
	if _, err := secure.GenerateKeyFile(keyFile, "kek-test"); err != nil {
		t.Fatal(err)
	}
	keys := secure.NewLocalKeys()
	if _, err := keys.LoadKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	wav := append([]byte("RIFF"), bytes.Repeat([]byte{1, 2, 3}, 50000)...)
	var enc bytes.Buffer
	w, _ := secure.NewWriter(context.Background(), &enc, keys, secure.EncryptOptions{})
	w.Write(wav)
	w.Close()
	in := filepath.Join(dir, "c.wav.enc")
	os.WriteFile(in, enc.Bytes(), 0o600)

	out := filepath.Join(dir, "c.wav")
	if err := run(keyFile, in, out); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, wav) {
		t.Fatal("decrypted file differs")
	}

	damaged := enc.Bytes()
	damaged[len(damaged)-100] ^= 1
	os.WriteFile(in, damaged, 0o600)
	out2 := filepath.Join(dir, "d.wav")
	if err := run(keyFile, in, out2); err == nil {
		t.Fatal("a damaged recording was decrypted")
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Fatal("partial output of a damaged recording was left behind")
	}
}
