package secure

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func testKeys(t testing.TB) *LocalKeys {
	t.Helper()
	k := NewLocalKeys()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if _, err := k.Add("test-kek", key); err != nil {
		t.Fatal(err)
	}
	return k
}

// realRecording renders real speech with espeak-ng, as a recording of a call would hold.
func realRecording(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "call.wav")
	out, err := exec.Command("espeak-ng", "-v", "cmn", "-w", path, "您好，这里是客服中心，您的账单即将到期。").CombinedOutput()
	if err != nil {
		t.Fatalf("espeak-ng (installed by make test): %v: %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 20000 || string(b[:4]) != "RIFF" {
		t.Fatalf("espeak-ng wrote %d bytes, not a WAV recording", len(b))
	}
	return b
}

func encrypt(t testing.TB, kp KeyProvider, plain []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(context.Background(), &buf, kp, EncryptOptions{ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	// Write in odd pieces to exercise chunk boundaries.
	for p := plain; len(p) > 0; {
		n := min(len(p), 777)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decrypt(kp KeyProvider, data []byte) ([]byte, error) {
	r, err := NewReader(context.Background(), bytes.NewReader(data), kp)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestEncryptRoundTripRealRecording(t *testing.T) {
	kp := testKeys(t)
	wav := realRecording(t)
	enc := encrypt(t, kp, wav, 4096)
	if bytes.Contains(enc, wav[44:1044]) {
		t.Fatal("ciphertext contains plaintext audio")
	}
	got, err := decrypt(kp, enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wav) {
		t.Fatalf("round trip changed the recording: %d bytes in, %d out", len(wav), len(got))
	}
}

func TestEncryptSizes(t *testing.T) {
	kp := testKeys(t)
	for _, n := range []int{0, 1, 99, 100, 101, 200, 1000} {
		plain := make([]byte, n)
		_, _ = rand.Read(plain)
		got, err := decrypt(kp, encrypt(t, kp, plain, 100))
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%d bytes: err %v, equal %v", n, err, bytes.Equal(got, plain))
		}
	}
}

func TestTamperDetected(t *testing.T) {
	kp := testKeys(t)
	plain := make([]byte, 1000)
	_, _ = rand.Read(plain)
	enc := encrypt(t, kp, plain, 100) // 10 full chunks, the tenth sealed as final
	hdr := len(enc) - 10*(100+tagSize)
	chunk := func(i int) (int, int) { s := hdr + i*(100+tagSize); return s, s + 100 + tagSize }

	other := NewLocalKeys()
	if _, err := other.Add("another-kek", bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data func() []byte
		kp   KeyProvider
		want error
	}{
		{"bit flip in audio", func() []byte { b := bytes.Clone(enc); b[hdr+50] ^= 1; return b }, kp, ErrTampered},
		{"bit flip in tag", func() []byte { b := bytes.Clone(enc); b[len(b)-1] ^= 0x80; return b }, kp, ErrTampered},
		{"bit flip in header nonce", func() []byte { b := bytes.Clone(enc); b[11] ^= 1; return b }, kp, ErrTampered},
		{"truncated at chunk boundary", func() []byte { _, e := chunk(5); return bytes.Clone(enc[:e]) }, kp, ErrTruncated},
		{"final chunk removed", func() []byte { _, e := chunk(8); return bytes.Clone(enc[:e]) }, kp, ErrTruncated},
		{"truncated mid chunk", func() []byte { s, _ := chunk(3); return bytes.Clone(enc[:s+40]) }, kp, ErrTampered},
		{"chunks swapped", func() []byte {
			b := bytes.Clone(enc)
			s2, e2 := chunk(2)
			s3, e3 := chunk(3)
			c2 := bytes.Clone(b[s2:e2])
			copy(b[s2:e2], b[s3:e3])
			copy(b[s3:e3], c2)
			return b
		}, kp, ErrTampered},
		{"wrong key", func() []byte { return enc }, wrongKey(t, other), ErrWrongKey},
		{"unknown key id", func() []byte { return enc }, other, ErrUnknownKey},
		{"not a recording", func() []byte { return []byte("RIFF....WAVEfmt ") }, kp, ErrBadHeader},
		{"empty", func() []byte { return nil }, kp, ErrBadHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decrypt(c.kp, c.data())
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// wrongKey returns a provider that knows the id "test-kek" but holds a different key.
func wrongKey(t *testing.T, _ *LocalKeys) KeyProvider {
	k := NewLocalKeys()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if _, err := k.Add("test-kek", key); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyFileAndRotation(t *testing.T) {
	dir := t.TempDir()
	oldID, err := GenerateKeyFile(filepath.Join(dir, "old.key"), "kek-2025")
	if err != nil {
		t.Fatal(err)
	}
	ring := NewLocalKeys()
	if _, err := ring.LoadKeyFile(filepath.Join(dir, "old.key")); err != nil {
		t.Fatal(err)
	}
	oldRec := encrypt(t, ring, []byte("old recording"), 0)
	if _, err := GenerateKeyFile(filepath.Join(dir, "new.key"), "kek-2026"); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.LoadKeyFile(filepath.Join(dir, "new.key")); err != nil {
		t.Fatal(err)
	}
	newRec := encrypt(t, ring, []byte("new recording"), 0)
	r, err := NewReader(context.Background(), bytes.NewReader(newRec), ring)
	if err != nil || r.KeyID != "kek-2026" {
		t.Fatalf("new recording key id %v, %v; want kek-2026", r, err)
	}
	if got, err := decrypt(ring, oldRec); err != nil || string(got) != "old recording" {
		t.Fatalf("old recording after rotation: %q, %v (key %s)", got, err, oldID)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.key"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.LoadKeyFile(filepath.Join(dir, "bad.key")); err == nil {
		t.Fatal("a 5-byte key file was accepted")
	}
}

func FuzzReader(f *testing.F) {
	kp := NewLocalKeys()
	_, _ = kp.Add("fuzz", bytes.Repeat([]byte{7}, 32))
	f.Add(encrypt(f, kp, []byte("hello recording"), 4))
	f.Add([]byte("OCREC\x01\x00\x00\x00\x04abcdefg\x04fuzz\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decrypt(kp, data) // must not panic or hang
	})
}

func BenchmarkEncrypt(b *testing.B) {
	kp := testKeys(b)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		w, _ := NewWriter(context.Background(), io.Discard, kp, EncryptOptions{})
		_, _ = w.Write(buf)
		_ = w.Close()
	}
}

func BenchmarkDecrypt(b *testing.B) {
	kp := testKeys(b)
	enc := encrypt(b, kp, make([]byte, 1<<20), 0)
	b.SetBytes(1 << 20)
	for b.Loop() {
		r, _ := NewReader(context.Background(), bytes.NewReader(enc), kp)
		_, _ = io.Copy(io.Discard, r)
	}
}
