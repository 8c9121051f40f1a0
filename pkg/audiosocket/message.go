// Package audiosocket is Asterisk's AudioSocket protocol: the message codec and a TCP server matching connections by UUID.
package audiosocket

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors, wrapped with %w and the values that explain the failure.
var (
	// ErrShortMessage reports a buffer that ends before the 3-byte header or the payload its length announces.
	ErrShortMessage = errors.New("audiosocket: message too short")
	// ErrPayloadSize reports a payload whose size does not fit its kind (UUID 16 bytes, DTMF 1, error 1, audio even).
	ErrPayloadSize = errors.New("audiosocket: bad payload size")
	// ErrUnknownKind reports a kind byte this package does not know.
	ErrUnknownKind = errors.New("audiosocket: unknown message kind")
	// ErrShortBuffer reports a destination buffer too small for MarshalTo.
	ErrShortBuffer = errors.New("audiosocket: buffer too small")
	// ErrUUID reports a malformed UUID string.
	ErrUUID = errors.New("audiosocket: malformed UUID")
	// ErrRate reports a sample rate AudioSocket has no kind for.
	ErrRate = errors.New("audiosocket: unsupported sample rate")
	// ErrClosed reports use of a closed Server or Conn.
	ErrClosed = errors.New("audiosocket: closed")
	// ErrHandshake reports a connection whose first message was not a UUID.
	ErrHandshake = errors.New("audiosocket: handshake")
)

// HeaderSize is the size of a message header: kind byte and big-endian uint16 payload length.
const HeaderSize = 3

// MaxPayload is the largest payload a message can carry.
const MaxPayload = 0xffff

// Kind is a message's type byte.
type Kind byte

// Message kinds. Audio kinds carry signed 16-bit LITTLE-endian mono PCM at the kind's rate.
const (
	KindHangup  Kind = 0x00 // end of call; no payload
	KindUUID    Kind = 0x01 // 16-byte call UUID, the first message from Asterisk
	KindDTMF    Kind = 0x03 // one DTMF digit as an ASCII byte
	KindSlin8   Kind = 0x10 // 8 kHz (320 bytes per 20 ms)
	KindSlin12  Kind = 0x11 // 12 kHz
	KindSlin16  Kind = 0x12 // 16 kHz
	KindSlin24  Kind = 0x13 // 24 kHz
	KindSlin32  Kind = 0x14 // 32 kHz
	KindSlin44  Kind = 0x15 // 44.1 kHz
	KindSlin48  Kind = 0x16 // 48 kHz
	KindSlin96  Kind = 0x17 // 96 kHz
	KindSlin192 Kind = 0x18 // 192 kHz
	KindError   Kind = 0xff // an error; the payload is one ErrorCode byte
)

var slinRates = [...]int{8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000}

// IsAudio reports whether k carries signed linear audio.
func (k Kind) IsAudio() bool { return k >= KindSlin8 && k <= KindSlin192 }

// Rate returns the sample rate of an audio kind, 0 for any other kind.
func (k Kind) Rate() int {
	if !k.IsAudio() {
		return 0
	}
	return slinRates[k-KindSlin8]
}

// String names the kind.
func (k Kind) String() string {
	switch {
	case k == KindHangup:
		return "hangup"
	case k == KindUUID:
		return "uuid"
	case k == KindDTMF:
		return "dtmf"
	case k == KindError:
		return "error"
	case k.IsAudio():
		return fmt.Sprintf("slin%d", k.Rate())
	}
	return fmt.Sprintf("kind(0x%02x)", byte(k))
}

// KindForRate returns the audio kind for a sample rate.
func KindForRate(rate int) (Kind, error) {
	for i, r := range slinRates {
		if r == rate {
			return KindSlin8 + Kind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %d Hz", ErrRate, rate)
}

func (k Kind) known() bool {
	return k == KindHangup || k == KindUUID || k == KindDTMF || k == KindError || k.IsAudio()
}

// ErrorCode is the payload of a KindError message.
type ErrorCode byte

// Error codes Asterisk sends.
const (
	ErrorNone      ErrorCode = 0x00 // no error
	ErrorHangup    ErrorCode = 0x01 // the caller hung up
	ErrorFrame     ErrorCode = 0x02 // frame forwarding error
	ErrorMemory    ErrorCode = 0x04 // memory (allocation) error
	ErrorUndefined ErrorCode = 0xff // anything else
)

// String names the error code.
func (c ErrorCode) String() string {
	switch c {
	case ErrorNone:
		return "none"
	case ErrorHangup:
		return "caller hangup"
	case ErrorFrame:
		return "frame forwarding error"
	case ErrorMemory:
		return "memory error"
	}
	return fmt.Sprintf("error code 0x%02x", byte(c))
}

// Message is one AudioSocket message.
//
//	+--------+--------+--------+----------------------+
//	|  kind  |  length (BE16)  |  payload (length B)  |
//	+--------+--------+--------+----------------------+
type Message struct {
	Kind    Kind
	Payload []byte // after Unmarshal it aliases the input buffer
}

// MarshalSize returns the number of bytes MarshalTo writes.
func (m *Message) MarshalSize() int { return HeaderSize + len(m.Payload) }

// Validate checks that the payload fits the kind.
func (m *Message) Validate() error {
	n := len(m.Payload)
	switch {
	case n > MaxPayload:
		return fmt.Errorf("%w: %s with %d bytes (max %d)", ErrPayloadSize, m.Kind, n, MaxPayload)
	case m.Kind == KindUUID && n != 16,
		m.Kind == KindDTMF && n != 1,
		m.Kind == KindError && n > 1,
		m.Kind == KindHangup && n != 0,
		m.Kind.IsAudio() && n%2 != 0:
		return fmt.Errorf("%w: %s with %d bytes", ErrPayloadSize, m.Kind, n)
	case !m.Kind.known():
		return fmt.Errorf("%w: 0x%02x", ErrUnknownKind, byte(m.Kind))
	}
	return nil
}

// MarshalTo writes the message into buf and returns the number of bytes written.
func (m *Message) MarshalTo(buf []byte) (n int, err error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	if len(buf) < m.MarshalSize() {
		return 0, fmt.Errorf("%w: %d bytes, message needs %d", ErrShortBuffer, len(buf), m.MarshalSize())
	}
	buf[0] = byte(m.Kind)
	binary.BigEndian.PutUint16(buf[1:], uint16(len(m.Payload)))
	return HeaderSize + copy(buf[HeaderSize:], m.Payload), nil
}

// Unmarshal parses the message at the start of buf and returns its length in bytes; buf may hold more after it.
func (m *Message) Unmarshal(buf []byte) (n int, err error) {
	if len(buf) < HeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortMessage, len(buf), HeaderSize)
	}
	size := int(binary.BigEndian.Uint16(buf[1:]))
	if len(buf) < HeaderSize+size {
		return 0, fmt.Errorf("%w: %d bytes, %s message needs %d", ErrShortMessage, len(buf), Kind(buf[0]), HeaderSize+size)
	}
	msg := Message{Kind: Kind(buf[0]), Payload: buf[HeaderSize : HeaderSize+size : HeaderSize+size]}
	if err := msg.Validate(); err != nil {
		return 0, err
	}
	*m = msg
	return HeaderSize + size, nil
}

// Digit returns a DTMF message's digit.
func (m *Message) Digit() (rune, bool) {
	if m.Kind != KindDTMF || len(m.Payload) != 1 {
		return 0, false
	}
	return rune(m.Payload[0]), true
}

// ErrorCode returns an error message's code (ErrorNone when it carries none).
func (m *Message) ErrorCode() ErrorCode {
	if m.Kind != KindError || len(m.Payload) == 0 {
		return ErrorNone
	}
	return ErrorCode(m.Payload[0])
}

// UUID returns a UUID message's id.
func (m *Message) UUID() (UUID, bool) {
	var u UUID
	if m.Kind != KindUUID || len(m.Payload) != 16 {
		return u, false
	}
	copy(u[:], m.Payload)
	return u, true
}

// ReadMessage reads one message from r into buf's storage (grown as needed) and returns the message and the buffer
// to reuse for the next read; the Payload aliases that buffer.
func ReadMessage(r io.Reader, buf []byte) (Message, []byte, error) {
	if cap(buf) < HeaderSize {
		buf = make([]byte, HeaderSize, 1024)
	}
	hdr := buf[:HeaderSize]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Message{}, buf, err
	}
	size := int(binary.BigEndian.Uint16(hdr[1:]))
	if cap(buf) < HeaderSize+size {
		nb := make([]byte, HeaderSize+size)
		copy(nb, hdr)
		buf = nb
	}
	buf = buf[:HeaderSize+size]
	if _, err := io.ReadFull(r, buf[HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, buf, fmt.Errorf("%w: %s payload of %d bytes: %w", ErrShortMessage, Kind(hdr[0]), size, err)
	}
	var m Message
	if _, err := m.Unmarshal(buf); err != nil {
		return Message{}, buf, err
	}
	return m, buf, nil
}

// UUID is the 16-byte id that ties an AudioSocket connection to its call.
type UUID [16]byte

// NewUUID returns a random (version 4) UUID.
func NewUUID() UUID {
	var u UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// String formats the UUID as 8-4-4-4-12 hex digits, as ExternalMedia's `data` parameter takes it.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ParseUUID parses the 8-4-4-4-12 form (either case) or 32 bare hex digits.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, fmt.Errorf("%w: %q", ErrUUID, s)
		}
		h = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(h) != 32 {
		return u, fmt.Errorf("%w: %q", ErrUUID, s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%w: %q", ErrUUID, s)
	}
	return u, nil
}
