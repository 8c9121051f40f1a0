package secure

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditEntry is one record of the audit trail: a dial decision, a gate refusal, a transfer, a recording access.
type AuditEntry struct {
	Seq     int64     // position in the chain, from 1
	Time    time.Time // when it was appended
	Kind    string    // e.g. "dial", "gate.refused", "transfer", "recording.access"
	Actor   string    // who acted: a process, a principal id
	Subject string    // what it concerns: a call id, a contact id (never a phone number in clear)
	Detail  string    // free text or JSON
	Prev    string    // MAC of the previous entry (hex); empty for the first
	MAC     string    // HMAC-SHA256 over Prev and this entry's fields (hex)
	ID      string    // the Redis Stream entry id
}

// AuditLog is an append-only audit trail in a Redis Stream whose entries form an HMAC chain: an edited, deleted,
// reordered or truncated entry is found by Verify. Without the key, nobody with write access to Redis can forge a
// consistent chain.
type AuditLog struct {
	rdb    redis.UniversalClient
	key    []byte
	stream string
	head   string
}

// AuditConfig configures an AuditLog.
type AuditConfig struct {
	Name string // log name; keys are "outcall:audit:{Name}" and "...:head"; default: "default"
	Key  []byte // HMAC key, at least 16 bytes; required
}

// NewAuditLog returns an audit log stored through rdb.
func NewAuditLog(rdb redis.UniversalClient, cfg AuditConfig) (*AuditLog, error) {
	if len(cfg.Key) < 16 {
		return nil, errors.New("secure: audit HMAC key must be at least 16 bytes")
	}
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	base := "outcall:audit:{" + cfg.Name + "}"
	return &AuditLog{rdb: rdb, key: append([]byte(nil), cfg.Key...), stream: base, head: base + ":head"}, nil
}

// appendScript adds the entry only if the chain head is still the one the MAC was computed over.
var appendScript = redis.NewScript(`
local head = redis.call('HMGET', KEYS[2], 'seq', 'mac')
local seq = tonumber(head[1] or '0')
if seq ~= tonumber(ARGV[1]) then return redis.error_reply('CONFLICT') end
local id = redis.call('XADD', KEYS[1], '*', 'seq', ARGV[2], 'ts', ARGV[3], 'kind', ARGV[4], 'actor', ARGV[5],
  'subject', ARGV[6], 'detail', ARGV[7], 'prev', ARGV[8], 'mac', ARGV[9])
redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'mac', ARGV[9])
return id
`)

// Append adds an entry to the chain and returns it as stored. Concurrent appenders are serialised by the chain
// head: a loser recomputes its MAC over the new head and tries again.
func (a *AuditLog) Append(ctx context.Context, kind, actor, subject, detail string) (AuditEntry, error) {
	for attempt := 0; attempt < 200; attempt++ {
		vals, err := a.rdb.HMGet(ctx, a.head, "seq", "mac").Result()
		if err != nil {
			return AuditEntry{}, fmt.Errorf("secure: audit head: %w", err)
		}
		var seq int64
		var prev string
		if s, ok := vals[0].(string); ok {
			seq, _ = strconv.ParseInt(s, 10, 64)
		}
		if s, ok := vals[1].(string); ok {
			prev = s
		}
		e := AuditEntry{Seq: seq + 1, Time: time.Now().UTC(), Kind: kind, Actor: actor, Subject: subject,
			Detail: detail, Prev: prev}
		e.MAC = a.mac(e)
		id, err := appendScript.Run(ctx, a.rdb, []string{a.stream, a.head}, seq, e.Seq,
			e.Time.Format(time.RFC3339Nano), kind, actor, subject, detail, prev, e.MAC).Text()
		if err != nil {
			if strings.Contains(err.Error(), "CONFLICT") {
				time.Sleep(time.Duration(mrand.IntN(2000)) * time.Microsecond)
				continue
			}
			return AuditEntry{}, fmt.Errorf("secure: audit append: %w", err)
		}
		e.ID = id
		return e, nil
	}
	return AuditEntry{}, errors.New("secure: audit append: too much contention on the chain head")
}

func (a *AuditLog) mac(e AuditEntry) string {
	h := hmac.New(sha256.New, a.key)
	for _, f := range []string{e.Prev, strconv.FormatInt(e.Seq, 10), e.Time.Format(time.RFC3339Nano), e.Kind,
		e.Actor, e.Subject, e.Detail} {
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Entries returns every entry in order.
func (a *AuditLog) Entries(ctx context.Context) ([]AuditEntry, error) {
	var out []AuditEntry
	start := "-"
	for {
		msgs, err := a.rdb.XRangeN(ctx, a.stream, start, "+", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("secure: audit read: %w", err)
		}
		for _, m := range msgs {
			out = append(out, entryFrom(m))
		}
		if len(msgs) < 1000 {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func entryFrom(m redis.XMessage) AuditEntry {
	s := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := AuditEntry{ID: m.ID, Kind: s("kind"), Actor: s("actor"), Subject: s("subject"), Detail: s("detail"),
		Prev: s("prev"), MAC: s("mac")}
	e.Seq, _ = strconv.ParseInt(s("seq"), 10, 64)
	e.Time, _ = time.Parse(time.RFC3339Nano, s("ts"))
	return e
}

// Verify walks the whole chain and returns the number of entries verified, or an error wrapping ErrChainBroken
// that names the first entry that does not verify and why.
func (a *AuditLog) Verify(ctx context.Context) (int, error) {
	entries, err := a.Entries(ctx)
	if err != nil {
		return 0, err
	}
	prev := ""
	for i, e := range entries {
		want := int64(i + 1)
		switch {
		case e.Seq != want:
			return i, fmt.Errorf("%w: entry %s has sequence %d, want %d (an entry was deleted or inserted)",
				ErrChainBroken, e.ID, e.Seq, want)
		case e.Prev != prev:
			return i, fmt.Errorf("%w: entry %d does not follow entry %d", ErrChainBroken, e.Seq, e.Seq-1)
		case !hmac.Equal([]byte(a.mac(e)), []byte(e.MAC)):
			return i, fmt.Errorf("%w: entry %d was altered", ErrChainBroken, e.Seq)
		}
		prev = e.MAC
	}
	vals, err := a.rdb.HMGet(ctx, a.head, "seq", "mac").Result()
	if err != nil {
		return len(entries), fmt.Errorf("secure: audit head: %w", err)
	}
	headSeq, _ := vals[0].(string)
	headMAC, _ := vals[1].(string)
	if headSeq != "" && (headSeq != strconv.Itoa(len(entries)) || headMAC != prev) {
		return len(entries), fmt.Errorf("%w: the log ends at entry %d but the head says %s (entries were removed)",
			ErrChainBroken, len(entries), headSeq)
	}
	return len(entries), nil
}
