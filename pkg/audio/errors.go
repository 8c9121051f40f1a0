package audio

import "errors"

// Sentinel errors. Functions wrap them with %w and the values that explain the failure; test with errors.Is.
var (
	// ErrPlayoutClosed is returned by Playout.Write after the stream was closed (the call hung up).
	ErrPlayoutClosed = errors.New("audio: playout stream closed")
	// ErrClockStopped is returned by Playout.Write once the playout clock has stopped.
	ErrClockStopped = errors.New("audio: playout clock stopped")
	// ErrClockRunning is returned by Clock.Run when the clock is already running.
	ErrClockRunning = errors.New("audio: playout clock already running")
	// ErrFormat reports a frame, rate or configuration the function does not support.
	ErrFormat = errors.New("audio: unsupported format")
	// ErrReceiverClosed is what a Receiver's Read returns after Close(nil).
	ErrReceiverClosed = errors.New("audio: receiver closed")
	// ErrWAV reports a malformed or unsupported WAV file.
	ErrWAV = errors.New("audio: bad WAV")
)
