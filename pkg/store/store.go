// Package store keeps per-call state and journals, in Redis (go-redis) or in memory. It stores bytes: what a
// state, a journal entry or an outcome holds is its caller's business (dialog.NewStore encodes dialog's types as
// JSON on top of it), so the store knows nothing of the layers above it.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrNoCallID reports a save without a call id: nothing is saved.
var ErrNoCallID = errors.New("store: save without a call id")

// Memory keeps records in process, for tests, examples and single-process deployments. It is safe for concurrent
// use and keeps copies, so a caller reusing its buffers changes nothing stored.
type Memory struct {
	mu    sync.Mutex
	calls map[string]*memCall
}

type memCall struct {
	turn    int
	state   []byte
	journal [][]byte
	outcome []byte
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{calls: map[string]*memCall{}} }

// Save is what one turn saves: the call's state after turn, the entry appended to its journal (nil appends
// nothing) and, once the call is done, its outcome (nil while it runs). The turn fences writers: Save stores
// nothing and returns false when a state of the same or a later turn is saved for the call.
func (m *Memory) Save(ctx context.Context, callID string, turn int, state, entry, outcome []byte) (bool, error) {
	if callID == "" {
		return false, ErrNoCallID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[callID]
	if c == nil {
		c = &memCall{}
		m.calls[callID] = c
	} else if c.turn >= turn {
		return false, nil
	}
	c.turn, c.state = turn, slices.Clone(state)
	if entry != nil {
		c.journal = append(c.journal, slices.Clone(entry))
	}
	if outcome != nil {
		c.outcome = slices.Clone(outcome)
	}
	return true, nil
}

// Load returns a call's latest state; false when none is saved.
func (m *Memory) Load(ctx context.Context, callID string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[callID]
	if c == nil {
		return nil, false, nil
	}
	return slices.Clone(c.state), true, nil
}

// Journal returns a call's journal entries in the order they were saved.
func (m *Memory) Journal(ctx context.Context, callID string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[callID]
	if c == nil {
		return nil, nil
	}
	out := make([][]byte, len(c.journal))
	for i, e := range c.journal {
		out[i] = slices.Clone(e)
	}
	return out, nil
}

// Outcome returns a finished call's outcome; false while the call runs or when it is unknown.
func (m *Memory) Outcome(ctx context.Context, callID string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[callID]
	if c == nil || c.outcome == nil {
		return nil, false, nil
	}
	return slices.Clone(c.outcome), true, nil
}

var errUnexpected = errors.New("store: unexpected reply")

func unexpected(what string, v any) error { return fmt.Errorf("%w to %s: %v", errUnexpected, what, v) }
