// Package rediscache keeps tts.Cache's shared level in Redis: renderings stored once by any process play at once in
// every other. It takes a redis.UniversalClient, so a single server, Redis Cluster and a ring all work (each key is
// one self-contained value; no multi-key commands).
//
//	cache := tts.NewCache(provider, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{})})
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/tts"
)

// Config configures a Store. Zero fields take their defaults.
type Config struct {
	TTL    time.Duration // expiry of an entry, renewed on each hit; default 7 days
	Prefix string        // key prefix; default "outcall:tts:"
}

// Store is a tts.SharedCache on Redis.
type Store struct {
	c   redis.UniversalClient
	cfg Config
}

var _ tts.SharedCache = (*Store)(nil)

// New returns a Store on c (a *redis.Client, *redis.ClusterClient or *redis.Ring).
func New(c redis.UniversalClient, cfg Config) *Store {
	if cfg.TTL <= 0 {
		cfg.TTL = 7 * 24 * time.Hour
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "outcall:tts:"
	}
	return &Store{c: c, cfg: cfg}
}

// Get returns the value of key and renews its expiry (GETEX); false when absent.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := s.c.GetEx(ctx, s.cfg.Prefix+key, s.cfg.TTL).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("rediscache: get %s: %w", key, err)
	}
	return b, true, nil
}

// Set stores value under key with the configured expiry.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := s.c.Set(ctx, s.cfg.Prefix+key, value, s.cfg.TTL).Err(); err != nil {
		return fmt.Errorf("rediscache: set %s: %w", key, err)
	}
	return nil
}
