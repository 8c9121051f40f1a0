package ari

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors matched by *Error through errors.Is.
var (
	ErrBadRequest    = errors.New("ari: bad request")          // 400
	ErrUnauthorized  = errors.New("ari: unauthorized")         // 401
	ErrForbidden     = errors.New("ari: forbidden")            // 403
	ErrNotFound      = errors.New("ari: not found")            // 404
	ErrConflict      = errors.New("ari: conflict")             // 409
	ErrInvalidState  = errors.New("ari: invalid state")        // 412
	ErrUnprocessable = errors.New("ari: unprocessable entity") // 422
	ErrServer        = errors.New("ari: server error")         // 5xx
)

// Client state errors.
var (
	// ErrClosed is returned by calls on a closed Client.
	ErrClosed = errors.New("ari: client closed")
	// ErrAlreadyStarted is returned by a second Start.
	ErrAlreadyStarted = errors.New("ari: client already started")
	// ErrMalformedEvent is wrapped by DecodeEvent for input that is not a valid ARI event.
	ErrMalformedEvent = errors.New("ari: malformed event")
	// ErrAppNotRegistered is returned by Start when Asterisk accepted the events socket but does not hold the
	// application (see Client.Start); the client retried before giving up.
	ErrAppNotRegistered = errors.New("ari: Asterisk does not hold the application after the events socket opened")
)

// Error is a non-2xx answer from Asterisk. It carries Asterisk's {"message": ...} and matches the sentinel of its
// status code with errors.Is (e.g. errors.Is(err, ErrNotFound) for 404).
type Error struct {
	Op      string // the Client method, e.g. "Answer"
	Status  int    // HTTP status code
	Message string // Asterisk's message, or the start of a non-JSON body
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("ari: %s: %d %s", e.Op, e.Status, msg)
}

// Is reports whether target is the sentinel of e's status code.
func (e *Error) Is(target error) bool {
	return target != nil && target == sentinelFor(e.Status)
}

func sentinelFor(status int) error {
	switch {
	case status == http.StatusBadRequest:
		return ErrBadRequest
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusPreconditionFailed:
		return ErrInvalidState
	case status == http.StatusUnprocessableEntity:
		return ErrUnprocessable
	case status >= 500:
		return ErrServer
	}
	return nil
}
