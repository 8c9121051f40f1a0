package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/redis/go-redis/v9"
)

// RedisConfig configures the Redis store.
type RedisConfig struct {
	Prefix     string        // key prefix; default "outcall:dialog"
	TTL        time.Duration // lifetime of a call's keys after its last write; default 72h
	MaxJournal int64         // approximate cap on turns kept per call (XADD MAXLEN ~); default 0: no cap
}

// Redis is a dialog.Store on Redis. A call's keys are <prefix>:{<callID>}:state (a hash of turn and JSON),
// :journal (a Stream of turns) and :outcome; the {callID} hash tag keeps them in one Redis Cluster slot.
type Redis struct {
	c   redis.UniversalClient
	cfg RedisConfig
}

var _ dialog.Store = (*Redis)(nil)

// NewRedis returns a store on client c (a *redis.Client, *redis.ClusterClient or ring); cfg's zero fields take
// their defaults.
func NewRedis(c redis.UniversalClient, cfg RedisConfig) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = "outcall:dialog"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 72 * time.Hour
	}
	return &Redis{c: c, cfg: cfg}
}

func (r *Redis) key(callID, kind string) string { return r.cfg.Prefix + ":{" + callID + "}:" + kind }

// saveTurn writes state, journal and outcome atomically, fenced by the turn number: a writer whose turn is not
// newer than the saved one gets 0 and changes nothing. EVAL sends the script with every call, so the first call
// costs no extra NOSCRIPT round trip.
var saveTurn = `
local cur = redis.call('HGET', KEYS[1], 'turn')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return tonumber(cur) * -1 - 1 end
redis.call('HSET', KEYS[1], 'turn', ARGV[1], 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if tonumber(ARGV[6]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'turn', ARGV[3])
else
  redis.call('XADD', KEYS[2], '*', 'turn', ARGV[3])
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[4])
end
return 1
`

// SaveTurn implements dialog.Store in one round trip.
func (r *Redis) SaveTurn(ctx context.Context, st *dialog.State, t dialog.Turn) error {
	sb, tb, ob, err := encode(st, t)
	if err != nil {
		return err
	}
	keys := []string{r.key(st.CallID, "state"), r.key(st.CallID, "journal"), r.key(st.CallID, "outcome")}
	res, err := r.c.Eval(ctx, saveTurn, keys, st.Turn, sb, tb, r.cfg.TTL.Milliseconds(), string(ob), r.cfg.MaxJournal).Int64()
	if err != nil {
		return fmt.Errorf("store: save turn of call %s: %w", st.CallID, err)
	}
	if res < 0 {
		return fmt.Errorf("%w: call %s turn %d, saved %d", dialog.ErrConflict, st.CallID, st.Turn, -res-1)
	}
	return nil
}

// Load implements dialog.Store.
func (r *Redis) Load(ctx context.Context, callID string) (*dialog.State, error) {
	b, err := r.c.HGet(ctx, r.key(callID, "state"), "json").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: call %s", dialog.ErrNotFound, callID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: load call %s: %w", callID, err)
	}
	return decodeState(b)
}

// Journal implements dialog.Store.
func (r *Redis) Journal(ctx context.Context, callID string) ([]dialog.Turn, error) {
	msgs, err := r.c.XRange(ctx, r.key(callID, "journal"), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("store: journal of call %s: %w", callID, err)
	}
	out := make([]dialog.Turn, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["turn"].(string)
		var t dialog.Turn
		if err := json.Unmarshal([]byte(s), &t); err != nil {
			return nil, fmt.Errorf("store: decode turn %s of call %s: %w", m.ID, callID, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Outcome returns a finished call's outcome; dialog.ErrNotFound while the call runs.
func (r *Redis) Outcome(ctx context.Context, callID string) (dialog.Outcome, error) {
	var o dialog.Outcome
	b, err := r.c.Get(ctx, r.key(callID, "outcome")).Bytes()
	if errors.Is(err, redis.Nil) {
		return o, fmt.Errorf("%w: no outcome for call %s", dialog.ErrNotFound, callID)
	}
	if err != nil {
		return o, fmt.Errorf("store: outcome of call %s: %w", callID, err)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("store: decode outcome of call %s: %w", callID, err)
	}
	return o, nil
}

// TTL returns the remaining lifetime of a call's state, for tests and operators.
func (r *Redis) TTL(ctx context.Context, callID string) (time.Duration, error) {
	return r.c.PTTL(ctx, r.key(callID, "state")).Result()
}
