package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures the Redis store.
type RedisConfig struct {
	Prefix     string        // key prefix; default "outcall:dialog"
	TTL        time.Duration // lifetime of a call's keys after its last write; default 72h
	MaxJournal int64         // approximate cap on turns kept per call (XADD MAXLEN ~); default 0: no cap
}

// Redis keeps records in Redis. A call's keys are <prefix>:{<callID>}:state (a hash of turn and JSON),
// :journal (a Stream of turns) and :outcome; the {callID} hash tag keeps them in one Redis Cluster slot.
type Redis struct {
	c   redis.UniversalClient
	cfg RedisConfig
}

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
if ARGV[7] == '1' then
  if tonumber(ARGV[6]) > 0 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'turn', ARGV[3])
  else
    redis.call('XADD', KEYS[2], '*', 'turn', ARGV[3])
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
if ARGV[5] ~= '' then -- an outcome is never empty: nil is sent as ''
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[4])
end
return 1
`

// Save is Memory.Save in one round trip: state, journal entry and outcome are written atomically, fenced by turn.
func (r *Redis) Save(ctx context.Context, callID string, turn int, state, entry, outcome []byte) (bool, error) {
	if callID == "" {
		return false, ErrNoCallID
	}
	keys := []string{r.key(callID, "state"), r.key(callID, "journal"), r.key(callID, "outcome")}
	res, err := r.c.Eval(ctx, saveTurn, keys, turn, state, entry, r.cfg.TTL.Milliseconds(), outcome,
		r.cfg.MaxJournal, boolArg(entry != nil)).Int64()
	if err != nil {
		return false, fmt.Errorf("store: save turn %d of call %s: %w", turn, callID, err)
	}
	return res > 0, nil
}

func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Load returns a call's latest state; false when none is saved.
func (r *Redis) Load(ctx context.Context, callID string) ([]byte, bool, error) {
	b, err := r.c.HGet(ctx, r.key(callID, "state"), "json").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: load call %s: %w", callID, err)
	}
	return b, true, nil
}

// Journal returns a call's journal entries in the order they were saved.
func (r *Redis) Journal(ctx context.Context, callID string) ([][]byte, error) {
	msgs, err := r.c.XRange(ctx, r.key(callID, "journal"), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("store: journal of call %s: %w", callID, err)
	}
	out := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		s, ok := m.Values["turn"].(string)
		if !ok {
			return nil, unexpected("journal entry "+m.ID+" of call "+callID, m.Values)
		}
		out = append(out, []byte(s))
	}
	return out, nil
}

// Outcome returns a finished call's outcome; false while the call runs or when it is unknown.
func (r *Redis) Outcome(ctx context.Context, callID string) ([]byte, bool, error) {
	b, err := r.c.Get(ctx, r.key(callID, "outcome")).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: outcome of call %s: %w", callID, err)
	}
	return b, true, nil
}

// TTL returns the remaining lifetime of a call's state, for tests and operators.
func (r *Redis) TTL(ctx context.Context, callID string) (time.Duration, error) {
	return r.c.PTTL(ctx, r.key(callID, "state")).Result()
}
