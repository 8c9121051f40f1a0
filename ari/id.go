package ari

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is Crockford's base32 alphabet in lower case; every character is safe in Asterisk ids and URL paths.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

var idState struct {
	mu       sync.Mutex
	lastMS   uint64
	hi       uint16 // top 16 of the 80 random bits
	lo       uint64 // low 64 of the 80 random bits
	fallback uint64
}

// NewID returns a new id for a channel, bridge, playback, snoop or recording: kind (letters and digits only; other
// characters are dropped), a dash, then a 26-character ULID (48-bit millisecond time and 80 random bits from
// crypto/rand, in lower-case Crockford base32). Ids sort by creation time; ids made in the same millisecond by one
// process increase monotonically. Example: "ch-01kaw0x6z8f3v2n7q9r4s5t6u7".
func NewID(kind string) string {
	var buf [64]byte
	n := 0
	for i := 0; i < len(kind) && n < 32; i++ {
		c := kind[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			continue
		}
		buf[n] = c
		n++
	}
	if n > 0 {
		buf[n] = '-'
		n++
	}
	ms := uint64(time.Now().UnixMilli())
	idState.mu.Lock()
	if ms <= idState.lastMS {
		// Same (or earlier, if the clock stepped back) millisecond: increment the random part so ids stay ordered.
		ms = idState.lastMS
		idState.lo++
		if idState.lo == 0 {
			idState.hi++
		}
	} else {
		var r [10]byte
		if _, err := rand.Read(r[:]); err != nil {
			// crypto/rand does not fail on supported platforms; stay unique anyway.
			idState.fallback++
			binary.BigEndian.PutUint64(r[2:], idState.fallback)
		}
		idState.hi = binary.BigEndian.Uint16(r[:2])
		idState.lo = binary.BigEndian.Uint64(r[2:])
		idState.lastMS = ms
	}
	hi, lo := idState.hi, idState.lo
	idState.mu.Unlock()

	// 128 bits: 48 time | 16 hi | 64 lo, written as 26 base32 digits (the first carries 3 bits).
	var b [16]byte
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	binary.BigEndian.PutUint16(b[6:], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	enc := buf[n : n+26]
	// Encode from the least significant end, 5 bits at a time.
	var acc uint32
	bits := 0
	j := 25
	for i := 15; i >= 0; i-- {
		acc |= uint32(b[i]) << bits
		bits += 8
		for bits >= 5 && j >= 0 {
			enc[j] = crockford[acc&31]
			acc >>= 5
			bits -= 5
			j--
		}
	}
	if j >= 0 {
		enc[j] = crockford[acc&31]
	}
	return string(buf[:n+26])
}
