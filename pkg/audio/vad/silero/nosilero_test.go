//go:build !silero

package silero

import (
	"errors"
	"testing"
)

func TestSileroNotBuilt(t *testing.T) {
	if _, err := Load(Config{}); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Load without the tag: %v, want ErrNotBuilt", err)
	}
	t.Skip("Silero VAD tests need -tags silero and the model (make speech-models): make test-speech")
}
