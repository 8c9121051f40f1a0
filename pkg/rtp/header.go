// Package rtp is RTP (RFC 3550) packet encoding and a shared, batched UDP transport that carries many calls' media.
package rtp

import (
	"encoding/binary"
	"fmt"
)

// Version is the only RTP version this package reads and writes.
const Version = 2

// HeaderSize is the size of the fixed RTP header without CSRC list or extension.
const HeaderSize = 12

// Header is the RTP fixed header (RFC 3550 §5.1) with its optional CSRC list and header extension (§5.3.1).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|X|  CC   |M|     PT      |       sequence number         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           timestamp                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           synchronization source (SSRC) identifier            |
//	+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//	|            contributing source (CSRC) identifiers             |
//	|                             ....                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  defined by profile (16 bit)  |        length (in words)      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        header extension                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Header struct {
	Padding          bool     // P: the packet ends with padding (set by Packet on marshal when PaddingSize > 0)
	Marker           bool     // M: for audio, the first packet after silence
	PayloadType      uint8    // PT: 0 PCMU, 8 PCMA, dynamic 96-127 (Asterisk slin16: 118)
	SequenceNumber   uint16   // increments by one per packet
	Timestamp        uint32   // sampling instant of the first sample, in the payload's clock rate
	SSRC             uint32   // synchronization source
	CSRC             []uint32 // contributing sources, at most 15
	Extension        bool     // X: a header extension follows the CSRC list
	ExtensionProfile uint16   // the extension's profile-defined 16 bits
	// ExtensionPayload is the extension's data, a multiple of 4 bytes. After Unmarshal it aliases the input buffer.
	ExtensionPayload []byte
}

// MarshalSize returns the number of bytes MarshalTo writes.
func (h *Header) MarshalSize() int {
	n := HeaderSize + 4*len(h.CSRC)
	if h.Extension {
		n += 4 + len(h.ExtensionPayload)
	}
	return n
}

// Unmarshal parses the header at the start of buf and returns its length in bytes. The CSRC slice is reused when
// it has capacity and ExtensionPayload aliases buf, so parsing into a reused Header does not allocate.
func (h *Header) Unmarshal(buf []byte) (n int, err error) {
	if len(buf) < HeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortPacket, len(buf), HeaderSize)
	}
	if v := buf[0] >> 6; v != Version {
		return 0, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	cc := int(buf[0] & 0x0f)
	n = HeaderSize + 4*cc
	if len(buf) < n {
		return 0, fmt.Errorf("%w: %d bytes, header with %d CSRC needs %d", ErrShortPacket, len(buf), cc, n)
	}
	h.Padding = buf[0]&0x20 != 0
	h.Extension = buf[0]&0x10 != 0
	h.Marker = buf[1]&0x80 != 0
	h.PayloadType = buf[1] & 0x7f
	h.SequenceNumber = binary.BigEndian.Uint16(buf[2:])
	h.Timestamp = binary.BigEndian.Uint32(buf[4:])
	h.SSRC = binary.BigEndian.Uint32(buf[8:])
	h.CSRC = h.CSRC[:0]
	for i := 0; i < cc; i++ {
		h.CSRC = append(h.CSRC, binary.BigEndian.Uint32(buf[HeaderSize+4*i:]))
	}
	h.ExtensionProfile = 0
	h.ExtensionPayload = nil
	if h.Extension {
		if len(buf) < n+4 {
			return 0, fmt.Errorf("%w: %d bytes, extension header needs %d", ErrShortPacket, len(buf), n+4)
		}
		h.ExtensionProfile = binary.BigEndian.Uint16(buf[n:])
		words := int(binary.BigEndian.Uint16(buf[n+2:]))
		n += 4
		if len(buf) < n+4*words {
			return 0, fmt.Errorf("%w: %d bytes, extension of %d words needs %d", ErrShortPacket, len(buf), words, n+4*words)
		}
		h.ExtensionPayload = buf[n : n+4*words : n+4*words]
		n += 4 * words
	}
	return n, nil
}

// MarshalTo writes the header into buf and returns the number of bytes written.
func (h *Header) MarshalTo(buf []byte) (n int, err error) {
	if len(h.CSRC) > 15 {
		return 0, fmt.Errorf("%w: %d", ErrTooManyCSRC, len(h.CSRC))
	}
	if h.Extension && (len(h.ExtensionPayload)%4 != 0 || len(h.ExtensionPayload) > 4*0xffff) {
		return 0, fmt.Errorf("%w: %d bytes", ErrExtensionSize, len(h.ExtensionPayload))
	}
	size := h.MarshalSize()
	if len(buf) < size {
		return 0, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortBuffer, len(buf), size)
	}
	b0 := byte(Version<<6) | byte(len(h.CSRC))
	if h.Padding {
		b0 |= 0x20
	}
	if h.Extension {
		b0 |= 0x10
	}
	buf[0] = b0
	buf[1] = h.PayloadType & 0x7f
	if h.Marker {
		buf[1] |= 0x80
	}
	binary.BigEndian.PutUint16(buf[2:], h.SequenceNumber)
	binary.BigEndian.PutUint32(buf[4:], h.Timestamp)
	binary.BigEndian.PutUint32(buf[8:], h.SSRC)
	n = HeaderSize
	for _, c := range h.CSRC {
		binary.BigEndian.PutUint32(buf[n:], c)
		n += 4
	}
	if h.Extension {
		binary.BigEndian.PutUint16(buf[n:], h.ExtensionProfile)
		binary.BigEndian.PutUint16(buf[n+2:], uint16(len(h.ExtensionPayload)/4))
		n += 4
		n += copy(buf[n:], h.ExtensionPayload)
	}
	return n, nil
}

// Packet is an RTP packet: header, payload and padding (RFC 3550 §5.1, P bit).
type Packet struct {
	Header
	Payload     []byte // after Unmarshal it aliases the input buffer
	PaddingSize uint8  // bytes of padding after the payload, including the count byte; 0 for none
}

// MarshalSize returns the number of bytes MarshalTo writes.
func (p *Packet) MarshalSize() int {
	return p.Header.MarshalSize() + len(p.Payload) + int(p.PaddingSize)
}

// Unmarshal parses a whole packet from buf and returns the number of bytes consumed (len(buf) on success). Payload
// aliases buf.
func (p *Packet) Unmarshal(buf []byte) (n int, err error) {
	n, err = p.Header.Unmarshal(buf)
	if err != nil {
		return 0, err
	}
	end := len(buf)
	p.PaddingSize = 0
	if p.Padding {
		if end == n {
			return 0, fmt.Errorf("%w: padding bit set on an empty payload", ErrPadding)
		}
		pad := int(buf[end-1])
		if pad == 0 || pad > end-n {
			return 0, fmt.Errorf("%w: count %d with %d bytes after the header", ErrPadding, pad, end-n)
		}
		p.PaddingSize = uint8(pad)
		end -= pad
	}
	p.Payload = buf[n:end:end]
	return len(buf), nil
}

// MarshalTo writes the packet into buf and returns the number of bytes written. The P bit follows PaddingSize;
// padding bytes are zero with the count in the last one.
func (p *Packet) MarshalTo(buf []byte) (n int, err error) {
	size := p.MarshalSize()
	if len(buf) < size {
		return 0, fmt.Errorf("%w: %d bytes, packet needs %d", ErrShortBuffer, len(buf), size)
	}
	p.Header.Padding = p.PaddingSize > 0
	n, err = p.Header.MarshalTo(buf)
	if err != nil {
		return 0, err
	}
	n += copy(buf[n:], p.Payload)
	if p.PaddingSize > 0 {
		clear(buf[n : n+int(p.PaddingSize)-1])
		n += int(p.PaddingSize)
		buf[n-1] = p.PaddingSize
	}
	return n, nil
}
