package vad

import (
	"errors"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad/silero"
	"github.com/outcall/outcall/pkg/audio/vad/webrtc"
)

func TestOpen(t *testing.T) {
	for _, name := range []string{"", "energy", "ENERGY"} {
		f, err := Open(name, Config{})
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
	if _, err := Open("sileroo", Config{}); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "energy, webrtc, silero") {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := Open(WebRTC, Config{}); webrtc.Built != (err == nil) || !webrtc.Built && !errors.Is(err, webrtc.ErrNotBuilt) {
		t.Fatalf("webrtc (built %v): %v", webrtc.Built, err)
	}
	if !Built(Energy) || Built(WebRTC) != webrtc.Built || Built(Silero) != silero.Built || Built("x") {
		t.Fatal("Built disagrees with the packages")
	}
	if !silero.Built {
		if _, err := Open(Silero, Config{}); !errors.Is(err, silero.ErrNotBuilt) || !strings.Contains(err.Error(), "-tags silero") {
			t.Fatalf("silero without the tag: %v", err)
		}
	}
}
