// Package store keeps dialog state and per-call journals, in Redis (go-redis) or in memory.
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/outcall/outcall/dialog"
)

// Memory is an in-process dialog.Store for tests, examples and single-process deployments. It is safe for
// concurrent use. States are stored as JSON copies, so a resumed state is exactly what Redis would return.
type Memory struct {
	mu       sync.Mutex
	states   map[string][]byte
	turns    map[string]map[int]bool
	journals map[string][][]byte
	outcomes map[string][]byte
}

var _ dialog.Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{states: map[string][]byte{}, turns: map[string]map[int]bool{}, journals: map[string][][]byte{},
		outcomes: map[string][]byte{}}
}

// Load implements dialog.Store.
func (m *Memory) Load(ctx context.Context, callID string) (*dialog.State, error) {
	m.mu.Lock()
	b, ok := m.states[callID]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: call %s", dialog.ErrNotFound, callID)
	}
	return decodeState(b)
}

// SaveTurn implements dialog.Store.
func (m *Memory) SaveTurn(ctx context.Context, st *dialog.State, t dialog.Turn) error {
	sb, tb, ob, err := encode(st, t)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.states[st.CallID]; ok {
		var cur struct {
			Turn int `json:"turn"`
		}
		if json.Unmarshal(old, &cur) == nil && cur.Turn >= st.Turn {
			return fmt.Errorf("%w: call %s turn %d, saved %d", dialog.ErrConflict, st.CallID, st.Turn, cur.Turn)
		}
	}
	m.states[st.CallID] = sb
	m.journals[st.CallID] = append(m.journals[st.CallID], tb)
	if ob != nil {
		m.outcomes[st.CallID] = ob
	}
	return nil
}

// Journal implements dialog.Store.
func (m *Memory) Journal(ctx context.Context, callID string) ([]dialog.Turn, error) {
	m.mu.Lock()
	js := slices.Clone(m.journals[callID])
	m.mu.Unlock()
	out := make([]dialog.Turn, 0, len(js))
	for _, b := range js {
		var t dialog.Turn
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("store: decode turn: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Outcome returns a finished call's outcome; dialog.ErrNotFound while the call runs.
func (m *Memory) Outcome(ctx context.Context, callID string) (dialog.Outcome, error) {
	m.mu.Lock()
	b, ok := m.outcomes[callID]
	m.mu.Unlock()
	var o dialog.Outcome
	if !ok {
		return o, fmt.Errorf("%w: no outcome for call %s", dialog.ErrNotFound, callID)
	}
	err := json.Unmarshal(b, &o)
	return o, err
}

func encode(st *dialog.State, t dialog.Turn) (state, turn, outcome []byte, err error) {
	if st == nil || st.CallID == "" {
		return nil, nil, nil, fmt.Errorf("store: state without a call id")
	}
	if state, err = json.Marshal(st); err != nil {
		return nil, nil, nil, fmt.Errorf("store: encode state: %w", err)
	}
	if turn, err = json.Marshal(t); err != nil {
		return nil, nil, nil, fmt.Errorf("store: encode turn: %w", err)
	}
	if st.Done {
		if outcome, err = json.Marshal(st.Outcome); err != nil {
			return nil, nil, nil, fmt.Errorf("store: encode outcome: %w", err)
		}
	}
	return state, turn, outcome, nil
}

func decodeState(b []byte) (*dialog.State, error) {
	var st dialog.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("store: decode state: %w", err)
	}
	return &st, nil
}
