package audio

// G.711 (ITU-T Rec. G.711, 1988) companding. µ-law (PCMU, RTP payload type 0) works on 14-bit linear samples,
// A-law (PCMA, payload type 8) on 13-bit ones; 16-bit PCM is scaled down by dropping the low bits, as the
// reference implementations do. Both directions are table-driven: decode is one 256-entry lookup, encode one
// lookup in a table indexed by the top 14 (µ-law) or 13 (A-law) bits of the sample.

var (
	ulawDecode [256]int16
	alawDecode [256]int16
	ulawEncode [1 << 14]byte // index: uint16(sample) >> 2
	alawEncode [1 << 13]byte // index: uint16(sample) >> 3
)

func init() {
	for i := range 256 {
		ulawDecode[i] = ulawToLinear(byte(i))
		alawDecode[i] = alawToLinear(byte(i))
	}
	for i := range ulawEncode {
		ulawEncode[i] = linearToULaw(int16(uint16(i) << 2))
	}
	for i := range alawEncode {
		alawEncode[i] = linearToALaw(int16(uint16(i) << 3))
	}
}

const (
	ulawBias = 0x84   // 132 (33 in 14-bit units): shifts every segment's end points onto powers of two
	ulawMax  = 0x1FFF // largest biased 14-bit magnitude
)

// linearToULaw is the G.711 µ-law compressor for one 16-bit sample, of which the top 14 bits count. Negative
// inputs take the one's complement, as in the ITU-T G.191 reference code, so -1..-4 map to "negative zero" 0x7F.
func linearToULaw(s int16) byte {
	var v int32
	mask := byte(0xFF)
	if s < 0 {
		v = int32(^s) >> 2
		mask = 0x7F
	} else {
		v = int32(s) >> 2
	}
	v += ulawBias >> 2
	if v > ulawMax {
		v = ulawMax
	}
	seg := 0
	for t := v >> 6; t > 0; t >>= 1 {
		seg++
	}
	return (byte(seg)<<4 | byte(v>>(uint(seg)+1))&0x0F) ^ mask
}

// ulawToLinear is the G.711 µ-law expander.
func ulawToLinear(u byte) int16 {
	u = ^u
	t := (int32(u&0x0F) << 3) + ulawBias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// linearToALaw is the G.711 A-law compressor for one 16-bit sample (of which the top 13 bits count).
func linearToALaw(s int16) byte {
	v := int32(s) >> 3 // 13-bit
	mask := byte(0xD5) // sign bit set (positive) and even bits inverted
	if v < 0 {
		v = -v - 1
		mask = 0x55
	}
	seg := 0
	for t := v >> 5; t > 0 && seg < 8; t >>= 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7F ^ mask
	}
	var mant int32
	if seg < 2 {
		mant = (v >> 1) & 0x0F
	} else {
		mant = (v >> uint(seg)) & 0x0F
	}
	return (byte(seg)<<4 | byte(mant)) ^ mask
}

// alawToLinear is the G.711 A-law expander.
func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int32(a&0x0F) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// ULawToLinear decodes one µ-law code.
func ULawToLinear(u byte) int16 { return ulawDecode[u] }

// LinearToULaw encodes one sample as µ-law.
func LinearToULaw(s int16) byte { return ulawEncode[uint16(s)>>2] }

// ALawToLinear decodes one A-law code.
func ALawToLinear(a byte) int16 { return alawDecode[a] }

// LinearToALaw encodes one sample as A-law.
func LinearToALaw(s int16) byte { return alawEncode[uint16(s)>>3] }

// DecodeULaw decodes µ-law bytes into dst, which it returns resliced to len(src). It allocates only when
// cap(dst) < len(src).
func DecodeULaw(dst []int16, src []byte) []int16 {
	dst = growInt16(dst, len(src))
	for i, c := range src {
		dst[i] = ulawDecode[c]
	}
	return dst
}

// EncodeULaw encodes samples as µ-law into dst, which it returns resliced to len(src). It allocates only when
// cap(dst) < len(src).
func EncodeULaw(dst []byte, src []int16) []byte {
	dst = growBytes(dst, len(src))
	for i, s := range src {
		dst[i] = ulawEncode[uint16(s)>>2]
	}
	return dst
}

// DecodeALaw decodes A-law bytes into dst, which it returns resliced to len(src). It allocates only when
// cap(dst) < len(src).
func DecodeALaw(dst []int16, src []byte) []int16 {
	dst = growInt16(dst, len(src))
	for i, c := range src {
		dst[i] = alawDecode[c]
	}
	return dst
}

// EncodeALaw encodes samples as A-law into dst, which it returns resliced to len(src). It allocates only when
// cap(dst) < len(src).
func EncodeALaw(dst []byte, src []int16) []byte {
	dst = growBytes(dst, len(src))
	for i, s := range src {
		dst[i] = alawEncode[uint16(s)>>3]
	}
	return dst
}

func growInt16(b []int16, n int) []int16 {
	if cap(b) < n {
		return make([]int16, n)
	}
	return b[:n]
}

func growBytes(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
