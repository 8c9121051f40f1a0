//go:build !webrtcvad

package webrtc

import (
	"errors"
	"testing"
)

func TestWebRTCNotBuilt(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("New without the tag: %v, want ErrNotBuilt", err)
	}
	t.Skip("WebRTC VAD tests need -tags webrtcvad (and libwebrtc-audio-processing-dev): make test-speech")
}
