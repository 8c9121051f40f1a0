package secure

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
)

// KeyProvider wraps and unwraps per-recording data keys with a key-encryption key (KEK). A local key file
// implements it here; a cloud KMS implements the same two calls.
type KeyProvider interface {
	// WrapKey encrypts dek with the current KEK and returns the KEK's id and the wrapped key.
	WrapKey(ctx context.Context, dek []byte) (keyID string, wrapped []byte, err error)
	// UnwrapKey decrypts a data key wrapped by the KEK named keyID.
	UnwrapKey(ctx context.Context, keyID string, wrapped []byte) ([]byte, error)
}

// LocalKeys is a KeyProvider holding 256-bit KEKs in memory, loaded from key files. The newest key added wraps new
// data keys; every key added can unwrap (key rotation).
type LocalKeys struct {
	mu      sync.RWMutex
	keys    map[string]cipher.AEAD
	current string
}

// NewLocalKeys returns an empty key ring.
func NewLocalKeys() *LocalKeys { return &LocalKeys{keys: map[string]cipher.AEAD{}} }

// Add adds a 32-byte KEK under id and makes it the current wrapping key. An empty id is derived from the key.
func (k *LocalKeys) Add(id string, kek []byte) (string, error) {
	if len(kek) != 32 {
		return "", fmt.Errorf("secure: key-encryption key must be 32 bytes, got %d", len(kek))
	}
	if id == "" {
		sum := sha256.Sum256(append([]byte("outcall-kek-id:"), kek...))
		id = "local-" + hex.EncodeToString(sum[:6])
	}
	if len(id) > 255 || strings.ContainsAny(id, "\x00\n") {
		return "", fmt.Errorf("secure: key id %q is not usable", id)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return "", err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	k.keys[id] = aead
	k.current = id
	k.mu.Unlock()
	return id, nil
}

// LoadKeyFile adds the KEK stored in path: 32 raw bytes, or 64 hex characters, or base64 of 32 bytes (surrounding
// whitespace ignored). The key id is the file's optional "id:" prefix line, else derived from the key.
func (k *LocalKeys) LoadKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secure: read key file: %w", err)
	}
	id := ""
	text := strings.TrimSpace(string(b))
	if rest, ok := strings.CutPrefix(text, "id:"); ok {
		line, body, _ := strings.Cut(rest, "\n")
		id, text = strings.TrimSpace(line), strings.TrimSpace(body)
	}
	key, err := decodeKey(text, b)
	if err != nil {
		return "", fmt.Errorf("secure: key file %s: %w", path, err)
	}
	return k.Add(id, key)
}

// GenerateKeyFile writes a new random KEK to path (hex, mode 0600) and returns its id.
func GenerateKeyFile(path, id string) (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if id == "" {
		id, _ = NewLocalKeys().Add("", key)
	}
	data := "id:" + id + "\n" + hex.EncodeToString(key) + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		return "", fmt.Errorf("secure: write key file: %w", err)
	}
	return id, nil
}

func decodeKey(text string, raw []byte) ([]byte, error) {
	if b, err := hex.DecodeString(text); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && len(b) == 32 {
		return b, nil
	}
	if len(raw) == 32 {
		return raw, nil
	}
	return nil, fmt.Errorf("want 32 raw bytes, 64 hex characters or base64 of 32 bytes")
}

// WrapKey implements KeyProvider with AES-256-GCM under the current KEK (random nonce prepended).
func (k *LocalKeys) WrapKey(_ context.Context, dek []byte) (string, []byte, error) {
	k.mu.RLock()
	id, aead := k.current, k.keys[k.current]
	k.mu.RUnlock()
	if aead == nil {
		return "", nil, fmt.Errorf("%w: no key-encryption key loaded", ErrUnknownKey)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, err
	}
	return id, aead.Seal(nonce, nonce, dek, []byte("outcall-dek:"+id)), nil
}

// UnwrapKey implements KeyProvider.
func (k *LocalKeys) UnwrapKey(_ context.Context, keyID string, wrapped []byte) ([]byte, error) {
	k.mu.RLock()
	aead := k.keys[keyID]
	k.mu.RUnlock()
	if aead == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, keyID)
	}
	ns := aead.NonceSize()
	if len(wrapped) < ns+aead.Overhead() {
		return nil, fmt.Errorf("%w: wrapped key too short", ErrBadHeader)
	}
	dek, err := aead.Open(nil, wrapped[:ns], wrapped[ns:], []byte("outcall-dek:"+keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q does not unwrap the data key", ErrWrongKey, keyID)
	}
	return dek, nil
}
