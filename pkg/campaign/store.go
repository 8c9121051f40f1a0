package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store holds a campaign's contacts, schedule, leases and results in Redis. Every key carries the {campaignID}
// hash tag, so a campaign lives on one Redis Cluster slot and its scripts run atomically.
//
//	outcall:camp:{id}:ctl        hash   state (running|paused|stopped)
//	outcall:camp:{id}:c:<cid>    hash   contact JSON, attempts, day, day_attempts, status, outcome, fence, owner,
//	                                    recorded (token of the last attempt recorded)
//	outcall:camp:{id}:due        zset   contacts waiting, scored by next-attempt time (ms)
//	outcall:camp:{id}:leases     zset   contacts owned by a process, scored by lease expiry (ms)
//	outcall:camp:{id}:fence      string fencing-token counter
//	outcall:camp:{id}:stats      hash   terminal outcomes counted
//	outcall:camp:{id}:results    stream one entry per attempt (and per gate refusal)
//	outcall:camp:{id}:bucket     hash   CPS token bucket shared by every process
//	outcall:camp:{id}:all        set    every contact id, for export
type Store struct {
	rdb redis.UniversalClient
	id  string
	k   keys
}

type keys struct{ ctl, due, leases, fence, stats, results, bucket, prefix, all string }

// Contact states.
const (
	StatusPending = "pending" // waiting in the schedule
	StatusLeased  = "leased"  // claimed by a process, not yet dialing
	StatusDialing = "dialing" // a dial is (or may be) under way
	StatusDone    = "done"    // terminal
)

// NewStore returns the store of campaign id.
func NewStore(rdb redis.UniversalClient, id string) *Store {
	p := "outcall:camp:{" + id + "}:"
	return &Store{rdb: rdb, id: id, k: keys{ctl: p + "ctl", due: p + "due", leases: p + "leases", fence: p + "fence",
		stats: p + "stats", results: p + "results", bucket: p + "bucket", prefix: p + "c:", all: p + "all"}}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Load adds contacts that are not in the store yet, due at at. It is idempotent: a contact already present keeps
// its history and schedule. It returns how many were added.
func (s *Store) Load(ctx context.Context, contacts []Contact, at time.Time) (int, error) {
	added := 0
	if err := loadScript.Load(ctx, s.rdb).Err(); err != nil {
		return 0, fmt.Errorf("campaign: load contacts: %w", err)
	}
	for start := 0; start < len(contacts); start += 1000 {
		end := min(start+1000, len(contacts))
		cmds, err := s.loadChunk(ctx, contacts[start:end], at, false)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// The node lost the script cache since SCRIPT LOAD (a replica promoted, a restart): send the body.
			// Safe to repeat: the script adds only what is absent.
			cmds, err = s.loadChunk(ctx, contacts[start:end], at, true)
		}
		if err != nil {
			return added, fmt.Errorf("campaign: load contacts: %w", err)
		}
		for _, c := range cmds {
			if n, _ := c.Int(); n == 1 {
				added++
			}
		}
	}
	if err := s.rdb.HSetNX(ctx, s.k.ctl, "state", "running").Err(); err != nil {
		return added, err
	}
	return added, nil
}

// loadChunk runs the load script for contacts in one pipeline, by its SHA or, with body, by its text.
func (s *Store) loadChunk(ctx context.Context, contacts []Contact, at time.Time, body bool) ([]*redis.Cmd, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, 0, len(contacts))
	for _, c := range contacts {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		keys := []string{s.k.prefix + c.ID, s.k.due, s.k.all}
		if body {
			cmds = append(cmds, loadScript.Eval(ctx, pipe, keys, c.ID, string(b), ms(at)))
		} else {
			cmds = append(cmds, loadScript.EvalSha(ctx, pipe, keys, c.ID, string(b), ms(at)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return cmds, nil
}

var loadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'contact', ARGV[2], 'attempts', 0, 'status', 'pending', 'fence', 0)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`)

// Lease is a claimed contact: the process owns it until the lease expires or it completes the attempt. Token is
// the fencing token every later write must present.
type Lease struct {
	Contact     Contact
	Token       int64
	Attempts    int
	DayAttempts int
	LastDay     string
	// StaleToken is the fencing token of an earlier lease on this contact that was reclaimed while dialing: its
	// call may still be up on the PBX, and is hung up (see Reaper) before the contact is dialed again.
	StaleToken int64
}

// claimScript reclaims expired leases, then claims up to n due contacts within the global concurrency limit.
// KEYS: ctl due leases fence results stats; ARGV: now n ttl owner maxConcurrent prefix
var claimScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' then return {state or 'missing'} end
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  local ck = ARGV[6] .. id
  redis.call('ZREM', KEYS[3], id)
  local st = redis.call('HMGET', ck, 'status', 'owner', 'fence')
  if st[1] == 'dialing' then
    redis.call('HINCRBY', ck, 'attempts', 1)
    redis.call('HSET', ck, 'stale', st[3] or '')
    redis.call('XADD', KEYS[5], '*', 'contact', id, 'outcome', 'abandoned', 'owner', st[2] or '', 'fence', st[3] or '0',
      'reason', 'lease expired while dialing: the owning process stopped', 'at', now)
  end
  -- A new token: the old owner, if it is only slow and not dead, can no longer record anything for this lease.
  redis.call('HSET', ck, 'status', 'pending', 'owner', '', 'fence', redis.call('INCR', KEYS[4]))
  local at = now
  if st[1] == 'dialing' then
    -- Its call may still be up on the PBX, a callee hearing silence: first in line, so that whoever claims it
    -- next hangs that call up now rather than when the schedule reaches it.
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    if first[2] and tonumber(first[2]) <= at then at = tonumber(first[2]) - 1 end
  end
  redis.call('ZADD', KEYS[2], at, id)
end
local room = tonumber(ARGV[5]) - redis.call('ZCARD', KEYS[3])
local n = math.min(tonumber(ARGV[2]), room)
if n <= 0 then return {'full'} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, n)
local out = {'ok'}
for _, id in ipairs(ids) do
  local ck = ARGV[6] .. id
  redis.call('ZREM', KEYS[2], id)
  local token = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), id)
  redis.call('HSET', ck, 'status', 'leased', 'owner', ARGV[4], 'fence', token)
  local h = redis.call('HMGET', ck, 'contact', 'attempts', 'day_attempts', 'day', 'stale')
  table.insert(out, id)
  table.insert(out, tostring(token))
  table.insert(out, h[1] or '')
  table.insert(out, h[2] or '0')
  table.insert(out, h[3] or '0')
  table.insert(out, h[4] or '')
  table.insert(out, h[5] or '')
end
return out
`)

// ErrNotRunning is returned by Claim when the campaign is paused or stopped.
var ErrNotRunning = errors.New("campaign: not running")

// ErrStaleLease is returned when a write presents a fencing token that no longer owns the contact: the lease
// expired and another process took it over.
var ErrStaleLease = errors.New("campaign: lease lost to another process")

// Claim reclaims expired leases and claims up to n due contacts for owner, holding each for ttl, while the number
// of leases across all processes stays within maxConcurrent.
func (s *Store) Claim(ctx context.Context, owner string, n, maxConcurrent int, ttl time.Duration, now time.Time) ([]Lease, error) {
	res, err := claimScript.Run(ctx, s.rdb, []string{s.k.ctl, s.k.due, s.k.leases, s.k.fence, s.k.results, s.k.stats},
		ms(now), n, ttl.Milliseconds(), owner, maxConcurrent, s.k.prefix).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("campaign: claim: %w", err)
	}
	switch res[0] {
	case "ok":
	case "full":
		return nil, nil
	default:
		return nil, fmt.Errorf("%w (state %s)", ErrNotRunning, res[0])
	}
	var out []Lease
	for i := 1; i+6 < len(res); i += 7 {
		var c Contact
		if err := json.Unmarshal([]byte(res[i+2]), &c); err != nil {
			return out, fmt.Errorf("campaign: contact %s: %w", res[i], err)
		}
		l := Lease{Contact: c, LastDay: res[i+5]}
		l.Token, _ = strconv.ParseInt(res[i+1], 10, 64)
		l.Attempts, _ = strconv.Atoi(res[i+3])
		l.DayAttempts, _ = strconv.Atoi(res[i+4])
		l.StaleToken, _ = strconv.ParseInt(res[i+6], 10, 64)
		out = append(out, l)
	}
	return out, nil
}

// beginScript marks a leased contact as dialing, counts the day's attempt, and takes a token from the shared CPS
// bucket. Returns 0 when the dial may start, or the milliseconds to wait for a token. Running it again for a lease
// that is already dialing changes nothing, so a caller may retry it after an error.
// KEYS: contact leases bucket; ARGV: token now cps day id ttl
var beginScript = redis.NewScript(`
local c = redis.call('HMGET', KEYS[1], 'fence', 'status')
if c[1] ~= ARGV[1] then return -1 end
-- A retry after a lost reply: the attempt already began, and is not counted or paced twice.
if c[2] == 'dialing' then return 0 end
local now = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
local tokens = tonumber(b[1] or rate)
local ts = tonumber(b[2] or now)
tokens = math.min(rate, tokens + (now - ts) * rate / 1000)
if tokens < 1 then
  redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'ts', now)
  return math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'ts', now)
local day = redis.call('HGET', KEYS[1], 'day')
if day == ARGV[4] then redis.call('HINCRBY', KEYS[1], 'day_attempts', 1)
else redis.call('HSET', KEYS[1], 'day', ARGV[4], 'day_attempts', 1) end
redis.call('HSET', KEYS[1], 'status', 'dialing')
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[5])
return 0
`)

// Begin marks the lease as dialing once the shared calls-per-second budget allows. It returns the wait before
// trying again (0: go ahead), or ErrStaleLease.
func (s *Store) Begin(ctx context.Context, l Lease, cps float64, localDay string, ttl time.Duration, now time.Time) (time.Duration, error) {
	n, err := beginScript.Run(ctx, s.rdb, []string{s.k.prefix + l.Contact.ID, s.k.leases, s.k.bucket},
		l.Token, ms(now), cps, localDay, l.Contact.ID, ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("campaign: begin: %w", err)
	}
	if n < 0 {
		return 0, ErrStaleLease
	}
	return time.Duration(n) * time.Millisecond, nil
}

// renewScript extends a lease if the token still owns it. KEYS: contact leases; ARGV: token until id
var renewScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
return 1
`)

// Renew extends the lease to now+ttl. A live call renews its lease while it lasts; ErrStaleLease means the
// process lost it and must end the call.
func (s *Store) Renew(ctx context.Context, l Lease, ttl time.Duration, now time.Time) error {
	ok, err := renewScript.Run(ctx, s.rdb, []string{s.k.prefix + l.Contact.ID, s.k.leases}, l.Token,
		ms(now.Add(ttl)), l.Contact.ID).Int()
	if err != nil {
		return fmt.Errorf("campaign: renew: %w", err)
	}
	if ok == 0 {
		return ErrStaleLease
	}
	return nil
}

// reapedScript clears a contact's stale token once the lease holder has hung up that token's call; an attempt
// that ends without doing so (refused by a gate, or by the live-call lock) leaves it for the next holder.
// KEYS: contact; ARGV: token stale
var reapedScript = redis.NewScript(`
local c = redis.call('HMGET', KEYS[1], 'fence', 'stale')
if c[1] ~= ARGV[1] then return 0 end
if c[2] == ARGV[2] then redis.call('HDEL', KEYS[1], 'stale') end
return 1
`)

// Reaped records that the stale call of l (l.StaleToken) has been hung up, so later attempts on the contact do
// not reap it again. ErrStaleLease when l no longer owns the contact.
func (s *Store) Reaped(ctx context.Context, l Lease) error {
	ok, err := reapedScript.Run(ctx, s.rdb, []string{s.k.prefix + l.Contact.ID}, l.Token,
		strconv.FormatInt(l.StaleToken, 10)).Int()
	if err != nil {
		return err
	}
	if ok == 0 {
		return ErrStaleLease
	}
	return nil
}

// completeScript records an attempt's end exactly once: it checks the fencing token, appends the result, and either
// reschedules the contact or marks it done. The token of the last recorded attempt is kept ('recorded'), so running
// it again after a lost reply records nothing twice (and returns 2).
// KEYS: contact leases due results stats; ARGV: token id outcome terminal nextAt counted resultJSON owner now
var completeScript = redis.NewScript(`
local c = redis.call('HMGET', KEYS[1], 'fence', 'recorded')
if c[2] == ARGV[1] then return 2 end
if c[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'recorded', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[6] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
redis.call('ZREM', KEYS[3], ARGV[2])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'status', 'done', 'outcome', ARGV[3], 'owner', '', 'fence', -1)
  redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
else
  redis.call('HSET', KEYS[1], 'status', 'pending', 'outcome', ARGV[3], 'owner', '')
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
end
redis.call('XADD', KEYS[4], '*', 'contact', ARGV[2], 'outcome', ARGV[3], 'owner', ARGV[8], 'fence', ARGV[1],
  'terminal', ARGV[4], 'counted', ARGV[6], 'result', ARGV[7], 'at', ARGV[9])
return 1
`)

// Completion is how an attempt (or a refusal) ends for one contact.
type Completion struct {
	Outcome  string    // "completed", "busy", "no-answer", "machine", "optout", "gate:window"...
	Terminal bool      // no further attempts
	NextAt   time.Time // when to try again, if not terminal
	Counted  bool      // an attempt was made (a gate refusal is not an attempt)
	Result   any       // JSON-encoded into the results stream (dialog outcome, durations, tags)
}

// Complete records the end of an attempt. It returns ErrStaleLease when the lease was lost (the result was already
// recorded by whoever took it over, so nothing is recorded twice). It may be retried after an error: an attempt
// already recorded is not recorded again.
func (s *Store) Complete(ctx context.Context, l Lease, owner string, c Completion, now time.Time) error {
	res, err := json.Marshal(c.Result)
	if err != nil {
		return fmt.Errorf("campaign: result: %w", err)
	}
	ok, err := completeScript.Run(ctx, s.rdb, []string{s.k.prefix + l.Contact.ID, s.k.leases, s.k.due, s.k.results,
		s.k.stats}, l.Token, l.Contact.ID, c.Outcome, b2s(c.Terminal), ms(c.NextAt), b2s(c.Counted), string(res),
		owner, ms(now)).Int()
	if err != nil {
		return fmt.Errorf("campaign: complete: %w", err)
	}
	if ok == 0 {
		return ErrStaleLease
	}
	return nil
}

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// SetState pauses, resumes or stops the campaign for every process ("running", "paused", "stopped").
func (s *Store) SetState(ctx context.Context, state string) error {
	switch state {
	case "running", "paused", "stopped":
	default:
		return fmt.Errorf("campaign: unknown state %q", state)
	}
	return s.rdb.HSet(ctx, s.k.ctl, "state", state).Err()
}

// State returns the campaign's state.
func (s *Store) State(ctx context.Context) (string, error) {
	st, err := s.rdb.HGet(ctx, s.k.ctl, "state").Result()
	if errors.Is(err, redis.Nil) {
		return "missing", nil
	}
	return st, err
}

// Progress counts contacts for a progress bar.
type Progress struct {
	Pending  int64            // waiting (due now or later)
	InFlight int64            // leased by a process
	Done     map[string]int64 // terminal contacts by outcome
	NextDue  time.Time        // earliest scheduled attempt, zero when none
}

// Total returns every contact counted.
func (p Progress) Total() int64 {
	t := p.Pending + p.InFlight
	for _, n := range p.Done {
		t += n
	}
	return t
}

// Progress reads the counts in one round trip.
func (s *Store) Progress(ctx context.Context) (Progress, error) {
	pipe := s.rdb.Pipeline()
	due := pipe.ZCard(ctx, s.k.due)
	inflight := pipe.ZCard(ctx, s.k.leases)
	stats := pipe.HGetAll(ctx, s.k.stats)
	first := pipe.ZRangeWithScores(ctx, s.k.due, 0, 0)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Progress{}, fmt.Errorf("campaign: progress: %w", err)
	}
	p := Progress{Pending: due.Val(), InFlight: inflight.Val(), Done: map[string]int64{}}
	for k, v := range stats.Val() {
		p.Done[k], _ = strconv.ParseInt(v, 10, 64)
	}
	if f := first.Val(); len(f) > 0 {
		p.NextDue = time.UnixMilli(int64(f[0].Score))
	}
	return p, nil
}

// ResultEntry is one record of the results stream.
type ResultEntry struct {
	ID       string
	Contact  string
	Outcome  string
	Owner    string
	Fence    int64
	Terminal bool
	Counted  bool
	Result   json.RawMessage
	At       time.Time
}

// Results reads the whole results stream in order.
func (s *Store) Results(ctx context.Context) ([]ResultEntry, error) {
	var out []ResultEntry
	start := "-"
	for {
		msgs, err := s.rdb.XRangeN(ctx, s.k.results, start, "+", 2000).Result()
		if err != nil {
			return nil, fmt.Errorf("campaign: results: %w", err)
		}
		for _, m := range msgs {
			v := func(k string) string { x, _ := m.Values[k].(string); return x }
			e := ResultEntry{ID: m.ID, Contact: v("contact"), Outcome: v("outcome"), Owner: v("owner"),
				Terminal: v("terminal") == "1", Counted: v("counted") == "1" || v("outcome") == "abandoned"}
			e.Fence, _ = strconv.ParseInt(v("fence"), 10, 64)
			if r := v("result"); r != "" {
				e.Result = json.RawMessage(r)
			}
			if at, err := strconv.ParseInt(v("at"), 10, 64); err == nil {
				e.At = time.UnixMilli(at)
			}
			out = append(out, e)
		}
		if len(msgs) < 2000 {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// ContactState is a contact's record in the store.
type ContactState struct {
	Contact  Contact
	Status   string
	Outcome  string
	Attempts int
}

// Contact reads one contact's state.
func (s *Store) Contact(ctx context.Context, id string) (ContactState, error) {
	h, err := s.rdb.HGetAll(ctx, s.k.prefix+id).Result()
	if err != nil {
		return ContactState{}, err
	}
	if len(h) == 0 {
		return ContactState{}, fmt.Errorf("campaign: no contact %q", id)
	}
	st := ContactState{Status: h["status"], Outcome: h["outcome"]}
	st.Attempts, _ = strconv.Atoi(h["attempts"])
	if err := json.Unmarshal([]byte(h["contact"]), &st.Contact); err != nil {
		return st, fmt.Errorf("campaign: contact %q: %w", id, err)
	}
	return st, nil
}
