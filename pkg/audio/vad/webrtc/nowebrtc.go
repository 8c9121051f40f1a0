//go:build !webrtcvad

package webrtc

import "github.com/outcall/outcall/pkg/audio"

// Built reports whether this binary has the WebRTC detector (the webrtcvad build tag).
const Built = false

// Detector is the WebRTC detector; in this build (no webrtcvad tag) it cannot be made.
type Detector struct{}

// Process analyses nothing in this build.
func (d *Detector) Process(audio.Frame) (audio.VADEvent, bool) { return audio.VADEvent{}, false }

// Probability is 0 in this build.
func (d *Detector) Probability() float64 { return 0 }

// Loud is false in this build.
func (d *Detector) Loud() bool { return false }

// Voiced is false in this build.
func (d *Detector) Voiced() bool { return false }

// Speaking is false in this build.
func (d *Detector) Speaking() bool { return false }

// Reset does nothing in this build.
func (d *Detector) Reset() {}

// Err is ErrNotBuilt in this build.
func (d *Detector) Err() error { return ErrNotBuilt }

// Close does nothing in this build.
func (d *Detector) Close() {}

// New returns ErrNotBuilt: the binary was built without the webrtcvad tag.
func New(Config) (*Detector, error) { return nil, ErrNotBuilt }
