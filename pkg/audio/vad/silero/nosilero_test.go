//go:build !cgo

package silero

import (
	"errors"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/audio/vad"
)

func TestSileroNotBuilt(t *testing.T) {
	if _, err := Load(Config{}); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Load without cgo: %v, want ErrNotBuilt", err)
	}
	if _, err := vad.Open(vad.Silero, vad.Config{}); !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "cgo") {
		t.Fatalf("vad.Open without cgo: %v, want ErrNotBuilt naming cgo", err)
	}
	t.Skip("Silero VAD tests need cgo (CGO_ENABLED=1, a C compiler) and make speech-models")
}
