package secure

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/dialog"
)

// RedactingStore wraps a dialog.Store so that transcripts are masked before they are stored: prompts, what was
// heard, the callee's words, the bot's reply, and slot values. Use it when stored transcripts must hold no personal
// information (the recording, encrypted, keeps the audio for those allowed to hear it). The dialog's state
// (variables and slots the script needs to continue) is stored as it is.
type RedactingStore struct {
	dialog.Store
	Redactor *Redactor
}

// SaveTurn masks the turn's text and saves it.
func (s RedactingStore) SaveTurn(ctx context.Context, st *dialog.State, t dialog.Turn) error {
	r := s.Redactor
	if r == nil {
		r = NewRedactor()
	}
	t.Prompt = r.Redact(t.Prompt)
	t.Heard = r.Redact(t.Heard)
	t.Transcript = r.Redact(t.Transcript)
	t.Reply = r.Redact(t.Reply)
	t.DTMF = r.Redact(t.DTMF)
	if len(t.Slots) > 0 {
		masked := make(map[string]any, len(t.Slots))
		for k, v := range t.Slots {
			masked[k] = r.Redact(fmt.Sprint(v))
		}
		t.Slots = masked
	}
	return s.Store.SaveTurn(ctx, st, t)
}
