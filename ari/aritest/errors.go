package aritest

import "errors"

// ErrClosed is returned by methods of a Server that has been closed.
var ErrClosed = errors.New("aritest: server closed")

// ErrAddr is returned (wrapped) when Config.Addr or Config.MediaHost is not a loopback address.
var ErrAddr = errors.New("aritest: address must be on 127.0.0.1")
