package dialog

import (
	"context"
	"fmt"
)

// RedactingStore wraps a Store so that transcripts are masked before they are stored: prompts, what was heard, the
// callee's words and keys, the bot's reply, and slot values. Redact is typically pkg/secure's
// (*Redactor).Redact. Use it when stored transcripts must hold no personal information (the recording, encrypted,
// keeps the audio for those allowed to hear it). The dialog's state (variables and slots the script needs to
// continue) is stored as it is.
type RedactingStore struct {
	Store
	Redact func(string) string // required
}

// SaveTurn masks the turn's text and saves it.
func (s RedactingStore) SaveTurn(ctx context.Context, st *State, t Turn) error {
	if s.Redact == nil {
		return fmt.Errorf("dialog: RedactingStore without a Redact function")
	}
	t.Prompt = s.Redact(t.Prompt)
	t.Heard = s.Redact(t.Heard)
	t.Transcript = s.Redact(t.Transcript)
	t.Reply = s.Redact(t.Reply)
	t.DTMF = s.Redact(t.DTMF)
	if len(t.Slots) > 0 {
		masked := make(map[string]any, len(t.Slots))
		for k, v := range t.Slots {
			masked[k] = s.Redact(fmt.Sprint(v))
		}
		t.Slots = masked
	}
	return s.Store.SaveTurn(ctx, st, t)
}
