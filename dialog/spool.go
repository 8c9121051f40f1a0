package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ErrSpoolFull is returned by Spool.SaveTurn when it already holds SpoolConfig.MaxTurns unsaved turns.
var ErrSpoolFull = errors.New("dialog: journal spool full: the store has been away too long")

// SpoolConfig configures a Spool. Zero fields take the defaults.
type SpoolConfig struct {
	MaxTurns int            // unsaved turns held in memory at most, all calls together; default: 10000
	Retry    time.Duration  // first wait before writing held turns again, doubling up to 2 s; default: 100ms
	Logger   zerolog.Logger // default: zerolog.Nop(); logs call ids and turn numbers only
}

// Spool is a Store that keeps the turns its store could not take — Redis restarting, failing over, unreachable —
// and writes them, each call's in order, once the store answers again, so a call that goes on through an outage
// loses no turn of its journal. A call with turns held has its later turns held behind them. ErrConflict is not
// held: it means another writer owns the call. Close writes what is left.
type Spool struct {
	st   Store
	cfg  SpoolConfig
	log  zerolog.Logger
	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	flushing sync.Mutex // one writer of held turns at a time: a turn written twice would pop its successor
	mu       sync.Mutex
	pending  map[string][]heldTurn // by call id, oldest first
	held     int
}

type heldTurn struct {
	state *State // a copy: the conversation goes on changing its own
	turn  Turn
}

// NewSpool wraps st. Its writer goroutine runs until Close.
func NewSpool(st Store, cfg SpoolConfig) *Spool {
	if cfg.MaxTurns <= 0 {
		cfg.MaxTurns = 10000
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 100 * time.Millisecond
	}
	s := &Spool{st: st, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), pending: map[string][]heldTurn{}}
	go s.run()
	return s
}

// SaveTurn saves the turn, or holds it when the store fails (nil is returned then: the turn will be written).
func (s *Spool) SaveTurn(ctx context.Context, st *State, t Turn) error {
	s.mu.Lock()
	queued := len(s.pending[st.CallID]) > 0
	s.mu.Unlock()
	if !queued {
		err := s.st.SaveTurn(ctx, st, t)
		if err == nil || errors.Is(err, ErrConflict) {
			return err
		}
		s.log.Warn().Err(err).Str("call", st.CallID).Int("turn", t.Seq).Msg("store failed: turn held until it answers")
	}
	return s.hold(st, t)
}

func (s *Spool) hold(st *State, t Turn) error {
	cp, err := copyState(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held >= s.cfg.MaxTurns {
		return fmt.Errorf("%w (%d turns held; call %s turn %d not saved)", ErrSpoolFull, s.held, st.CallID, t.Seq)
	}
	s.pending[st.CallID] = append(s.pending[st.CallID], heldTurn{state: cp, turn: t})
	s.held++
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

func copyState(st *State) (*State, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("dialog: spool: state of call %s: %w", st.CallID, err)
	}
	cp := new(State)
	return cp, json.Unmarshal(b, cp)
}

// Held returns how many turns wait for the store.
func (s *Spool) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Load returns the newest state of the call, held or saved.
func (s *Spool) Load(ctx context.Context, callID string) (*State, error) {
	s.mu.Lock()
	q := s.pending[callID]
	s.mu.Unlock()
	if len(q) > 0 {
		return copyState(q[len(q)-1].state)
	}
	return s.st.Load(ctx, callID)
}

// Journal returns the call's saved turns followed by those still held.
func (s *Spool) Journal(ctx context.Context, callID string) ([]Turn, error) {
	saved, err := s.st.Journal(ctx, callID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.pending[callID] {
		if len(saved) == 0 || h.turn.Seq > saved[len(saved)-1].Seq {
			saved = append(saved, h.turn)
		}
	}
	return saved, nil
}

func (s *Spool) run() {
	defer close(s.done)
	wait := s.cfg.Retry
	for {
		var retry <-chan time.Time // nothing held: sleep until a turn is (hold kicks)
		if s.Held() > 0 {
			retry = time.After(wait)
		}
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-retry:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.Flush(ctx)
		cancel()
		if err == nil {
			wait = s.cfg.Retry
			continue
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Flush writes the held turns, each call's in order, and returns the first store error (the turns not written
// stay held).
func (s *Spool) Flush(ctx context.Context) error {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	for {
		s.mu.Lock()
		var id string
		var h heldTurn
		for k, q := range s.pending {
			id, h = k, q[0]
			break
		}
		s.mu.Unlock()
		if id == "" {
			return nil
		}
		err := s.st.SaveTurn(ctx, h.state, h.turn)
		if err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
		if err != nil {
			// Saved by an earlier try whose reply was lost, or the call is another writer's now: either way not ours to write.
			s.log.Warn().Err(err).Str("call", id).Int("turn", h.turn.Seq).Msg("held turn not written")
		}
		s.mu.Lock()
		if q := s.pending[id]; len(q) > 1 {
			s.pending[id] = q[1:]
		} else {
			delete(s.pending, id)
		}
		s.held--
		s.mu.Unlock()
	}
}

// Close stops the writer and writes what is held until ctx ends; the error says how many turns were not written.
func (s *Spool) Close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	for {
		err := s.Flush(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dialog: spool closed with %d turns not written: %w", s.Held(), err)
		case <-time.After(s.cfg.Retry):
		}
	}
}
