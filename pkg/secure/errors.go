package secure

import "errors"

// Sentinel errors, wrapped with the details of each failure.
var (
	// ErrBadHeader: the data is not an outcall encrypted recording, or its header is damaged.
	ErrBadHeader = errors.New("secure: bad recording header")
	// ErrTampered: a chunk failed authentication — modified, reordered, or from another recording.
	ErrTampered = errors.New("secure: recording tampered with")
	// ErrTruncated: the recording ends before its final chunk.
	ErrTruncated = errors.New("secure: recording truncated")
	// ErrWrongKey: the key-encryption key cannot unwrap the recording's data key.
	ErrWrongKey = errors.New("secure: wrong key")
	// ErrUnknownKey: the key provider has no key with the recording's key id.
	ErrUnknownKey = errors.New("secure: unknown key id")
	// ErrDenied: the principal's role does not allow the access.
	ErrDenied = errors.New("secure: access denied")
	// ErrChainBroken: the audit log's hash chain does not verify.
	ErrChainBroken = errors.New("secure: audit chain broken")
	// ErrBadSignature: a webhook signature is missing, malformed, stale or wrong.
	ErrBadSignature = errors.New("secure: bad webhook signature")
)
