package vad_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
)

func TestOpen(t *testing.T) {
	for _, name := range []string{"", "energy", "ENERGY"} {
		f, err := vad.Open(name, vad.Config{})
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		d, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := d.(*audio.VAD); !ok {
			t.Fatalf("%q: %T, want the energy detector", name, d)
		}
	}
	if _, err := vad.Open("sileroo", vad.Config{}); !errors.Is(err, vad.ErrUnknown) || !strings.Contains(err.Error(), "energy, webrtc, silero") {
		t.Fatalf("unknown name: %v", err)
	}
	if !vad.Linked(vad.Energy) || vad.Linked("x") {
		t.Fatal("Linked: energy is always there, an unknown name never")
	}
}

func TestRegister(t *testing.T) {
	// This test binary imports no provider: a known name is an error naming the package to import, until one
	// registers; then Open goes through the provider's opener and wraps its error.
	if vad.Linked(vad.WebRTC) {
		t.Fatal("webrtc linked with no import")
	}
	_, err := vad.Open(vad.WebRTC, vad.Config{})
	if !errors.Is(err, vad.ErrNotLinked) || !strings.Contains(err.Error(), "pkg/audio/vad/webrtc") {
		t.Fatalf("not linked: %v", err)
	}
	errNoFiles := errors.New("no model")
	vad.Register(vad.WebRTC, func() (audio.DetectorFactory, error) { return nil, errNoFiles })
	if _, err := vad.Open("WebRTC", vad.Config{}); !errors.Is(err, errNoFiles) || !strings.HasPrefix(err.Error(), "VAD=webrtc") {
		t.Fatalf("opener error: %v", err)
	}
	vad.Register(vad.WebRTC, func() (audio.DetectorFactory, error) { return audio.EnergyDetector(audio.VADConfig{}), nil })
	if f, err := vad.Open(vad.WebRTC, vad.Config{}); err != nil || f == nil || !vad.Linked(vad.WebRTC) {
		t.Fatalf("registered: %v", err)
	}
}
