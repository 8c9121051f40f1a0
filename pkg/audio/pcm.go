package audio

import "encoding/binary"

// Signed linear PCM byte order. RTP carries slin (L16, slin16) big-endian, in network order (RFC 3551 §4.5.11);
// Asterisk AudioSocket carries it little-endian.

// PutPCM16BE writes samples into dst as big-endian 16-bit PCM and returns the number of bytes written:
// 2·min(len(src), len(dst)/2). It never writes past len(dst).
func PutPCM16BE(dst []byte, src []int16) int {
	n := min(len(src), len(dst)/2)
	for i, s := range src[:n] {
		binary.BigEndian.PutUint16(dst[2*i:], uint16(s))
	}
	return 2 * n
}

// PutPCM16LE writes samples into dst as little-endian 16-bit PCM and returns the number of bytes written:
// 2·min(len(src), len(dst)/2). It never writes past len(dst).
func PutPCM16LE(dst []byte, src []int16) int {
	n := min(len(src), len(dst)/2)
	for i, s := range src[:n] {
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(s))
	}
	return 2 * n
}

// PCM16BE decodes big-endian 16-bit PCM from src into dst, which it returns resliced to len(src)/2 samples (a
// trailing odd byte is ignored). It allocates only when dst is too small.
func PCM16BE(dst []int16, src []byte) []int16 {
	n := len(src) / 2
	dst = growInt16(dst, n)
	for i := range dst {
		dst[i] = int16(binary.BigEndian.Uint16(src[2*i:]))
	}
	return dst
}

// PCM16LE decodes little-endian 16-bit PCM from src into dst, which it returns resliced to len(src)/2 samples (a
// trailing odd byte is ignored). It allocates only when dst is too small.
func PCM16LE(dst []int16, src []byte) []int16 {
	n := len(src) / 2
	dst = growInt16(dst, n)
	for i := range dst {
		dst[i] = int16(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return dst
}

// AppendPCM16BE appends samples to dst as big-endian 16-bit PCM.
func AppendPCM16BE(dst []byte, src []int16) []byte {
	for _, s := range src {
		dst = binary.BigEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}

// AppendPCM16LE appends samples to dst as little-endian 16-bit PCM.
func AppendPCM16LE(dst []byte, src []int16) []byte {
	for _, s := range src {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}
