package dialog

import (
	"context"
	"encoding/json"
	"fmt"
)

// Records is the byte-level storage a JSONStore keeps its states, turns and outcomes in; pkg/store's Redis and
// Memory implement it. The interface lives here, with its consumer, so the store knows nothing of dialog.
type Records interface {
	// Save stores a call's state after turn, appends entry to the call's journal and, when outcome is not nil,
	// sets the call's outcome, in one round trip. It stores nothing and returns false when a state of the same or
	// a later turn is saved.
	Save(ctx context.Context, callID string, turn int, state, entry, outcome []byte) (bool, error)
	// Load returns a call's latest state; false when none is saved.
	Load(ctx context.Context, callID string) ([]byte, bool, error)
	// Journal returns a call's journal entries in order.
	Journal(ctx context.Context, callID string) ([][]byte, error)
	// Outcome returns a finished call's outcome; false while the call runs.
	Outcome(ctx context.Context, callID string) ([]byte, bool, error)
}

// JSONStore is a Store on Records: states, turns and outcomes are kept as JSON.
type JSONStore struct{ r Records }

var _ Store = (*JSONStore)(nil)

// NewStore returns a Store keeping its data as JSON in r, e.g. dialog.NewStore(store.NewMemory()) or
// dialog.NewStore(store.NewRedis(client, store.RedisConfig{})).
func NewStore(r Records) *JSONStore { return &JSONStore{r: r} }

// Load implements Store.
func (s *JSONStore) Load(ctx context.Context, callID string) (*State, error) {
	b, ok, err := s.r.Load(ctx, callID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("dialog: decode state of call %s: %w", callID, err)
	}
	return &st, nil
}

// SaveTurn implements Store.
func (s *JSONStore) SaveTurn(ctx context.Context, st *State, t Turn) error {
	if st == nil || st.CallID == "" {
		return fmt.Errorf("dialog: state without a call id")
	}
	state, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("dialog: encode state: %w", err)
	}
	turn, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("dialog: encode turn: %w", err)
	}
	var outcome []byte
	if st.Done {
		if outcome, err = json.Marshal(st.Outcome); err != nil {
			return fmt.Errorf("dialog: encode outcome: %w", err)
		}
	}
	saved, err := s.r.Save(ctx, st.CallID, st.Turn, state, turn, outcome)
	if err != nil {
		return err
	}
	if !saved {
		return fmt.Errorf("%w: call %s turn %d", ErrConflict, st.CallID, st.Turn)
	}
	return nil
}

// Journal implements Store.
func (s *JSONStore) Journal(ctx context.Context, callID string) ([]Turn, error) {
	entries, err := s.r.Journal(ctx, callID)
	if err != nil {
		return nil, err
	}
	out := make([]Turn, len(entries))
	for i, b := range entries {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("dialog: decode turn %d of call %s: %w", i, callID, err)
		}
	}
	return out, nil
}

// Outcome returns a finished call's outcome; ErrNotFound while the call runs.
func (s *JSONStore) Outcome(ctx context.Context, callID string) (Outcome, error) {
	var o Outcome
	b, ok, err := s.r.Outcome(ctx, callID)
	if err != nil {
		return o, err
	}
	if !ok {
		return o, fmt.Errorf("%w: no outcome for call %s", ErrNotFound, callID)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("dialog: decode outcome of call %s: %w", callID, err)
	}
	return o, nil
}
