package rtp

import (
	"math/rand/v2"
)

// Sequencer numbers the packets one sender emits: a random SSRC, sequence number and initial timestamp (RFC 3550
// §5.1), the sequence advancing by one and the timestamp by the samples of each packet.
type Sequencer struct {
	PayloadType uint8
	hdr         Header
	started     bool
}

// NewSequencer returns a Sequencer for payload type pt with random SSRC, sequence and timestamp origins.
func NewSequencer(pt uint8) *Sequencer {
	return &Sequencer{
		PayloadType: pt,
		hdr: Header{
			PayloadType:    pt,
			SSRC:           rand.Uint32(),
			SequenceNumber: uint16(rand.Uint32()),
			Timestamp:      rand.Uint32(),
		},
	}
}

// SSRC is the synchronization source the sequencer stamps.
func (q *Sequencer) SSRC() uint32 { return q.hdr.SSRC }

// Skip advances the timestamp by samples without sending (a pause in the stream); the next packet carries the
// marker bit, as RFC 3551 asks for the first packet of a talkspurt.
func (q *Sequencer) Skip(samples int) {
	q.hdr.Timestamp += uint32(samples)
	q.started = false
}

// Append writes the next packet carrying payload (which covers samples samples) to dst and returns the extended
// slice. It does not allocate when dst has room.
func (q *Sequencer) Append(dst []byte, payload []byte, samples int) []byte {
	q.hdr.PayloadType = q.PayloadType
	q.hdr.Marker = !q.started
	q.started = true
	size := q.hdr.MarshalSize() + len(payload)
	off := len(dst)
	if cap(dst)-off < size {
		nd := make([]byte, off, off+size)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:off+size]
	n, _ := q.hdr.MarshalTo(dst[off:]) // cannot fail: no CSRC, no extension, room checked
	copy(dst[off+n:], payload)
	q.hdr.SequenceNumber++
	q.hdr.Timestamp += uint32(samples)
	return dst
}
