//go:build !cgo

package silero

import "github.com/outcall/outcall/pkg/audio"

// Built reports whether this binary has the Silero detector (it was built with cgo).
const Built = false

// Model is the loaded network; in this build (no cgo) it cannot be loaded.
type Model struct{}

// Load returns ErrNotBuilt: the binary was built without cgo.
func Load(Config) (*Model, error) { return nil, ErrNotBuilt }

// NewDetector returns ErrNotBuilt in this build.
func (m *Model) NewDetector() (*Detector, error) { return nil, ErrNotBuilt }

// Close does nothing in this build.
func (m *Model) Close() error { return nil }

// Detector is a Silero detector; in this build it cannot be made.
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

// Close does nothing in this build.
func (d *Detector) Close() error { return nil }

// Err is ErrNotBuilt in this build.
func (d *Detector) Err() error { return ErrNotBuilt }
