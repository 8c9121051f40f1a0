package rtp

import "errors"

// Sentinel errors. Functions wrap them with %w and the values that explain the failure.
var (
	// ErrShortPacket reports a buffer too short for the header (or the CSRC list / extension it announces).
	ErrShortPacket = errors.New("rtp: packet too short")
	// ErrVersion reports a version field other than 2.
	ErrVersion = errors.New("rtp: unsupported version")
	// ErrPadding reports a padding count that is zero or longer than the payload.
	ErrPadding = errors.New("rtp: invalid padding")
	// ErrShortBuffer reports a destination buffer too small for MarshalTo.
	ErrShortBuffer = errors.New("rtp: buffer too small")
	// ErrTooManyCSRC reports more than 15 contributing sources.
	ErrTooManyCSRC = errors.New("rtp: more than 15 CSRC")
	// ErrExtensionSize reports an extension payload whose length is not a multiple of 4 or exceeds 65535 words.
	ErrExtensionSize = errors.New("rtp: invalid extension size")
	// ErrClosed reports use of a closed Transport or Peer.
	ErrClosed = errors.New("rtp: closed")
	// ErrDuplicatePeer reports a second registration for the same remote address.
	ErrDuplicatePeer = errors.New("rtp: remote address already registered")
)
