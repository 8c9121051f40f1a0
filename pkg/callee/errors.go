package callee

import "errors"

// ErrInvalidScript is returned (wrapped, with the step at fault) for a Script that cannot be played.
var ErrInvalidScript = errors.New("callee: invalid script")

// ErrNoTTS is returned (wrapped) when a Say step has only Text and no Synthesizer was configured to render it.
var ErrNoTTS = errors.New("callee: say step has text but no TTS is configured")
