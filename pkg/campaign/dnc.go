package campaign

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// DNC is a do-not-call list in a Redis set, shared by every campaign and process. Numbers are stored in E.164.
type DNC struct {
	rdb redis.UniversalClient
	key string
}

// NewDNC returns the list named name ("default" when empty), stored at "outcall:dnc:{name}".
func NewDNC(rdb redis.UniversalClient, name string) *DNC {
	if name == "" {
		name = "default"
	}
	return &DNC{rdb: rdb, key: "outcall:dnc:{" + name + "}"}
}

// Contains implements DNCChecker.
func (d *DNC) Contains(ctx context.Context, e164 string) (bool, error) {
	return d.rdb.SIsMember(ctx, d.key, e164).Result()
}

// Add puts numbers (already E.164) on the list.
func (d *DNC) Add(ctx context.Context, e164 ...string) error {
	if len(e164) == 0 {
		return nil
	}
	args := make([]any, len(e164))
	for i, n := range e164 {
		args[i] = n
	}
	return d.rdb.SAdd(ctx, d.key, args...).Err()
}

// Remove takes numbers off the list.
func (d *DNC) Remove(ctx context.Context, e164 ...string) error {
	args := make([]any, len(e164))
	for i, n := range e164 {
		args[i] = n
	}
	return d.rdb.SRem(ctx, d.key, args...).Err()
}

// Len returns how many numbers are on the list.
func (d *DNC) Len(ctx context.Context) (int64, error) { return d.rdb.SCard(ctx, d.key).Result() }

// Import reads one number per line (any format NormalizePhone accepts in region; blank lines and lines starting
// with # are skipped) and adds them in pipelined batches. It returns how many were added and the lines it could
// not read.
func (d *DNC) Import(ctx context.Context, r io.Reader, region string) (int, []RowError, error) {
	const batch = 5000
	sc := bufio.NewScanner(r)
	var bad []RowError
	pending := make([]any, 0, batch)
	added := 0
	pipe := d.rdb.Pipeline()
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		pipe.SAdd(ctx, d.key, pending...)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("campaign: DNC import: %w", err)
		}
		added += len(pending)
		pending = pending[:0]
		return nil
	}
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		n, err := NormalizePhone(text, region)
		if err != nil {
			bad = append(bad, RowError{Line: line, Err: err, Raw: text})
			continue
		}
		pending = append(pending, n)
		if len(pending) == batch {
			if err := flush(); err != nil {
				return added, bad, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return added, bad, err
	}
	return added, bad, flush()
}

// MemoryDNC is an in-process do-not-call list for single-process runs and tests.
type MemoryDNC struct {
	mu  sync.RWMutex
	set map[string]bool
}

// NewMemoryDNC returns an empty list.
func NewMemoryDNC() *MemoryDNC { return &MemoryDNC{set: map[string]bool{}} }

// Contains implements DNCChecker.
func (m *MemoryDNC) Contains(_ context.Context, e164 string) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.set[e164], nil
}

// Add puts numbers on the list.
func (m *MemoryDNC) Add(_ context.Context, e164 ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range e164 {
		m.set[n] = true
	}
	return nil
}
