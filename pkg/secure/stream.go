package secure

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Encrypted recording format (all integers big-endian):
//
//	header: "OCREC" | version=1 | chunkSize u32 | noncePrefix [7] | len(keyID) u8 | keyID | len(wrapped) u16 | wrapped
//	chunks: AES-256-GCM(dataKey, nonce = noncePrefix | counter u32 | last u8, aad = SHA-256(header)) of chunkSize
//	        plaintext bytes each (the last one shorter or empty), each followed by its 16-byte tag.
//
// The counter in the nonce catches reordered or dropped chunks, the last-chunk flag catches truncation, and the
// header hash as additional data ties every chunk to this recording's header.

const (
	magic            = "OCREC"
	formatVersion    = 1
	noncePrefixSize  = 7
	tagSize          = 16
	DefaultChunkSize = 64 << 10 // plaintext bytes per chunk
	maxChunkSize     = 16 << 20
)

// EncryptOptions tune a Writer.
type EncryptOptions struct {
	ChunkSize int // plaintext bytes per authenticated chunk; default: 64 KiB
}

// Writer encrypts a recording as it is written, one chunk at a time: memory use is one chunk whatever the length.
// Close seals the final chunk; a recording without it reads as truncated.
type Writer struct {
	w       io.Writer
	aead    cipher.AEAD
	prefix  [noncePrefixSize]byte
	aad     []byte
	buf     []byte // pending plaintext, up to chunkSize
	out     []byte
	counter uint32
	closed  bool
	err     error
}

// NewWriter writes a header to w and returns a Writer that encrypts into w under a fresh data key wrapped by kp.
func NewWriter(ctx context.Context, w io.Writer, kp KeyProvider, opt EncryptOptions) (*Writer, error) {
	size := opt.ChunkSize
	if size == 0 {
		size = DefaultChunkSize
	}
	if size < 1 || size > maxChunkSize {
		return nil, fmt.Errorf("secure: chunk size %d out of range 1..%d", size, maxChunkSize)
	}
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	keyID, wrapped, err := kp.WrapKey(ctx, dek)
	if err != nil {
		return nil, fmt.Errorf("secure: wrap data key: %w", err)
	}
	if len(keyID) > 255 || len(wrapped) > 65535 {
		return nil, fmt.Errorf("secure: key id or wrapped key too long")
	}
	sw := &Writer{w: w, buf: make([]byte, 0, size)}
	if _, err := rand.Read(sw.prefix[:]); err != nil {
		return nil, err
	}
	hdr := make([]byte, 0, 32+len(keyID)+len(wrapped))
	hdr = append(hdr, magic...)
	hdr = append(hdr, formatVersion)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(size))
	hdr = append(hdr, sw.prefix[:]...)
	hdr = append(hdr, byte(len(keyID)))
	hdr = append(hdr, keyID...)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(wrapped)))
	hdr = append(hdr, wrapped...)
	if sw.aead, err = newAEAD(dek); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(hdr)
	sw.aad = sum[:]
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("secure: write header: %w", err)
	}
	return sw, nil
}

// Write encrypts p. Full chunks go to the underlying writer as soon as the next byte shows they are not the last.
func (sw *Writer) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if sw.closed {
		return 0, errors.New("secure: write to closed Writer")
	}
	n := 0
	for len(p) > 0 {
		if len(sw.buf) == cap(sw.buf) {
			if err := sw.seal(false); err != nil {
				return n, err
			}
		}
		k := copy(sw.buf[len(sw.buf):cap(sw.buf)], p)
		sw.buf = sw.buf[:len(sw.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close seals the final chunk. It does not close the underlying writer.
func (sw *Writer) Close() error {
	if sw.closed {
		return sw.err
	}
	sw.closed = true
	if sw.err != nil {
		return sw.err
	}
	return sw.seal(true)
}

func (sw *Writer) seal(last bool) error {
	nonce := chunkNonce(sw.prefix, sw.counter, last)
	sw.out = sw.aead.Seal(sw.out[:0], nonce[:], sw.buf, sw.aad)
	if _, err := sw.w.Write(sw.out); err != nil {
		sw.err = fmt.Errorf("secure: write chunk %d: %w", sw.counter, err)
		return sw.err
	}
	if sw.counter == ^uint32(0) {
		sw.err = errors.New("secure: recording too long for one data key")
		return sw.err
	}
	sw.counter++
	sw.buf = sw.buf[:0]
	return nil
}

// Reader decrypts a recording written by Writer, verifying every chunk before returning its bytes. Any change to
// the data gives ErrTampered, a missing end ErrTruncated; bytes before the damage have already been returned.
type Reader struct {
	r       *bufio.Reader
	aead    cipher.AEAD
	prefix  [noncePrefixSize]byte
	aad     []byte
	KeyID   string // id of the key-encryption key that wrapped this recording's data key
	chunk   int
	in      []byte
	plain   []byte
	off     int
	counter uint32
	done    bool
	err     error
}

// NewReader reads the header from r and unwraps the data key with kp.
func NewReader(ctx context.Context, r io.Reader, kp KeyProvider) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	fixed := make([]byte, len(magic)+1+4+noncePrefixSize+1)
	if _, err := io.ReadFull(br, fixed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	if string(fixed[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not an outcall encrypted recording", ErrBadHeader)
	}
	if v := fixed[len(magic)]; v != formatVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrBadHeader, v)
	}
	size := int(binary.BigEndian.Uint32(fixed[len(magic)+1:]))
	if size < 1 || size > maxChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d", ErrBadHeader, size)
	}
	sr := &Reader{r: br, chunk: size}
	copy(sr.prefix[:], fixed[len(magic)+5:])
	idLen := int(fixed[len(fixed)-1])
	rest := make([]byte, idLen+2)
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	sr.KeyID = string(rest[:idLen])
	wrapped := make([]byte, binary.BigEndian.Uint16(rest[idLen:]))
	if _, err := io.ReadFull(br, wrapped); err != nil {
		return nil, fmt.Errorf("%w: wrapped key: %v", ErrBadHeader, err)
	}
	dek, err := kp.UnwrapKey(ctx, sr.KeyID, wrapped)
	if err != nil {
		return nil, err
	}
	if sr.aead, err = newAEAD(dek); err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(fixed)
	h.Write(rest)
	h.Write(wrapped)
	sr.aad = h.Sum(nil)
	sr.in = make([]byte, size+tagSize)
	return sr, nil
}

// Read implements io.Reader.
func (sr *Reader) Read(p []byte) (int, error) {
	for sr.off == len(sr.plain) {
		if sr.err != nil {
			return 0, sr.err
		}
		if sr.done {
			return 0, io.EOF
		}
		sr.err = sr.next()
	}
	n := copy(p, sr.plain[sr.off:])
	sr.off += n
	return n, nil
}

func (sr *Reader) next() error {
	n, err := io.ReadFull(sr.r, sr.in)
	last := false
	switch {
	case err == io.EOF:
		return fmt.Errorf("%w: no final chunk after chunk %d", ErrTruncated, sr.counter)
	case err == io.ErrUnexpectedEOF:
		last = true
	case err != nil:
		return fmt.Errorf("secure: read chunk %d: %w", sr.counter, err)
	default:
		if _, perr := sr.r.Peek(1); perr == io.EOF {
			last = true
		}
	}
	if n < tagSize {
		return fmt.Errorf("%w: chunk %d is %d bytes", ErrTruncated, sr.counter, n)
	}
	nonce := chunkNonce(sr.prefix, sr.counter, last)
	plain, oerr := sr.aead.Open(sr.plain[:0], nonce[:], sr.in[:n], sr.aad)
	if oerr != nil {
		if last {
			alt := chunkNonce(sr.prefix, sr.counter, false)
			if _, e := sr.aead.Open(nil, alt[:], sr.in[:n], sr.aad); e == nil {
				return fmt.Errorf("%w: stream ends after chunk %d, which is not the final chunk", ErrTruncated, sr.counter)
			}
		}
		return fmt.Errorf("%w: chunk %d fails authentication", ErrTampered, sr.counter)
	}
	sr.plain, sr.off = plain, 0
	sr.counter++
	sr.done = last
	return nil
}

func chunkNonce(prefix [noncePrefixSize]byte, counter uint32, last bool) [12]byte {
	var n [12]byte
	copy(n[:], prefix[:])
	binary.BigEndian.PutUint32(n[noncePrefixSize:], counter)
	if last {
		n[11] = 1
	}
	return n
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	return cipher.NewGCM(block)
}
