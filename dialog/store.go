package dialog

import (
	"context"
	"errors"
	"time"
)

// ErrConflict is returned by Store.SaveTurn when another writer already saved this turn or a later one for the
// call: the caller lost ownership of the call and must stop.
var ErrConflict = errors.New("dialog: state conflict: a newer turn is saved")

// Store keeps conversation state and the per-call journal. NewStore puts it on pkg/store's Redis or Memory.
type Store interface {
	// Load returns a call's latest state; ErrNotFound when none is saved.
	Load(ctx context.Context, callID string) (*State, error)
	// SaveTurn saves the state after a turn, appends the turn to the journal and, when the state is Done, the
	// outcome — in one round trip. A state whose Turn is not newer than the saved one fails with ErrConflict.
	SaveTurn(ctx context.Context, st *State, t Turn) error
	// Journal returns a call's turns in order.
	Journal(ctx context.Context, callID string) ([]Turn, error)
}

// Turn is one journal entry: what the bot said, what the callee heard of it and said, and what was understood.
type Turn struct {
	Seq        int            `json:"seq"`                  // State.Turn after this turn; 0 for the opening
	Time       time.Time      `json:"time"`                 // when the turn was decided
	Node       string         `json:"node"`                 // node the turn was heard at
	Prompt     string         `json:"prompt,omitempty"`     // what the bot said before listening
	Heard      string         `json:"heard,omitempty"`      // the part of Prompt the callee heard (shorter after barge-in)
	BargeIn    bool           `json:"barge_in,omitempty"`   // the callee interrupted the prompt
	Input      string         `json:"input"`                // utterance, keys, no_input, hangup, start
	Transcript string         `json:"transcript,omitempty"` // the final ASR text
	DTMF       string         `json:"dtmf,omitempty"`       // keys pressed
	Intent     string         `json:"intent,omitempty"`     // intent recognised
	Score      float64        `json:"score,omitempty"`      // its score
	Slots      map[string]any `json:"slots,omitempty"`      // slots captured this turn
	Sentiment  float64        `json:"sentiment,omitempty"`  // this utterance's score
	Mood       Mood           `json:"mood,omitempty"`       // mood after this utterance
	Reply      string         `json:"reply,omitempty"`      // the bot's answer to this turn
	NextNode   string         `json:"next_node,omitempty"`  // node after the turn
	Latency    Latency        `json:"latency,omitzero"`     // where the time went
}

// Latency records a turn's timing.
type Latency struct {
	ASR      time.Duration `json:"asr,omitempty"`       // end of speech → final transcript
	Decide   time.Duration `json:"decide,omitempty"`    // final transcript → reply text ready
	TTSFirst time.Duration `json:"tts_first,omitempty"` // reply text → first audio frame written
}

// String names an input kind for the journal.
func (k InputKind) String() string {
	switch k {
	case Utterance:
		return "utterance"
	case Keys:
		return "keys"
	case NoInput:
		return "no_input"
	case Hangup:
		return "hangup"
	}
	return "start"
}

// TurnOf builds the journal entry for a Step: the prompt the callee was answering, the input and the reply.
func TurnOf(prev Reply, in Input, r Reply, st *State, at time.Time) Turn {
	t := Turn{
		Seq: st.Turn, Time: at, Node: prev.Node, Prompt: prev.Prompt, Heard: prev.Prompt, Input: in.Kind.String(),
		Transcript: in.Text, DTMF: in.Digits, Intent: r.Intent, Score: r.Score, Slots: r.Slots,
		Sentiment: r.Sentiment, Mood: r.Mood, Reply: r.Prompt, NextNode: r.Node,
	}
	return t
}
