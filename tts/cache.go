package tts

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
)

// ErrCacheValue means a value read from the shared level is not a cached rendering (corrupt, or written by
// something else).
var ErrCacheValue = errors.New("tts: bad cache value")

// SharedCache is a cache level shared by processes, holding opaque values by key; tts/rediscache keeps it in
// Redis (or Redis Cluster). Its own expiry policy applies; a Get may renew it.
type SharedCache interface {
	// Get returns the value of key; false when absent.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key.
	Set(ctx context.Context, key string, value []byte) error
}

// CacheConfig configures a Cache.
type CacheConfig struct {
	MaxBytes      int64           // memory budget for cached audio (PCM16, 2 bytes a sample); default 64 MiB; <0: no memory level
	Shared        SharedCache     // second level shared by processes (tts/rediscache); default nil: memory only
	Provider      string          // provider name in the key; default the wrapped Synthesizer's Name() if it has one, else "tts"
	SharedTimeout time.Duration   // limit on each Shared call; on timeout or error the cache renders as on a miss; default 250ms
	Logger        *zerolog.Logger // default zerolog.Nop(); texts are never logged, only key hashes
}

// Cache is a Synthesizer that keeps renderings of its wrapped Synthesizer: in a memory LRU and, when configured, in
// a SharedCache (Redis) as binary values, so prompts rendered once (by any process) play at once. A miss streams the wrapped
// Synthesizer's audio to the caller as it comes and stores it once read to the end. It is safe for concurrent use.
type Cache struct {
	next Synthesizer
	cfg  CacheConfig
	log  zerolog.Logger

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
	bytes int64

	hits, sharedHits, misses, evictions, sharedErrors atomic.Int64
}

// CacheStats counts what a Cache did.
type CacheStats struct {
	Hits         int64 // served from memory
	SharedHits   int64 // served from the shared level
	Misses       int64 // rendered by the wrapped Synthesizer
	Evictions    int64 // entries dropped from memory to stay under MaxBytes
	SharedErrors int64 // failed or timed-out shared-level calls, and unusable values found there
	Entries      int   // entries in memory
	Bytes        int64 // audio bytes in memory
}

type cacheEntry struct {
	key  string
	rate int
	pcm  []int16 // read-only once stored
}

// NewCache wraps next with a cache.
func NewCache(next Synthesizer, cfg CacheConfig) *Cache {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.Provider == "" {
		cfg.Provider = "tts"
		if n, ok := next.(interface{ Name() string }); ok {
			cfg.Provider = n.Name()
		}
	}
	if cfg.SharedTimeout == 0 {
		cfg.SharedTimeout = 250 * time.Millisecond
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	return &Cache{next: next, cfg: cfg, log: log.With().Str("tts", "cache").Str("provider", cfg.Provider).Logger(),
		lru: list.New(), items: map[string]*list.Element{}}
}

// Key returns the cache key of r: a hash of the provider, voice, language, speed, rate and text. Requests that
// differ only in defaults spelled out (Language "" and "zh", Speed 0 and 1) share a key.
func (c *Cache) Key(r Request) string {
	lang := r.Language
	if lang == "" {
		lang = "zh"
	}
	speed := r.Speed
	if speed == 0 {
		speed = 1
	}
	h := sha256.New()
	for _, f := range []string{c.cfg.Provider, r.Voice, lang, strconv.FormatFloat(speed, 'g', -1, 64),
		strconv.Itoa(r.Rate), r.Text} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f))) // length-prefixed: no two field lists hash alike
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Synthesize returns the cached rendering of r, or renders it with the wrapped Synthesizer, streaming, and caches
// it once the caller has read it to the end.
func (c *Cache) Synthesize(ctx context.Context, r Request) (audio.Source, error) {
	key := c.Key(r)
	if e := c.get(key); e != nil {
		c.hits.Add(1)
		return &pcmSource{rate: e.rate, pcm: e.pcm}, nil
	}
	if e := c.fromShared(ctx, key); e != nil {
		c.sharedHits.Add(1)
		c.put(e)
		return &pcmSource{rate: e.rate, pcm: e.pcm}, nil
	}
	c.misses.Add(1)
	src, err := c.next.Synthesize(ctx, r)
	if err != nil {
		return nil, err
	}
	return &teeSource{src: src, cache: c, key: key}, nil
}

// Prewarm renders every request that is in neither level yet, such as a script's fixed prompts before a campaign,
// one at a time. Requests found in the shared level are loaded into memory. It returns the failures joined, each naming the
// index of its request.
func (c *Cache) Prewarm(ctx context.Context, reqs []Request) error {
	var errs []error
	for i, r := range reqs {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("tts: prewarm: %w", err))...)
		}
		key := c.Key(r)
		if c.get(key) != nil {
			continue
		}
		if e := c.fromShared(ctx, key); e != nil {
			c.sharedHits.Add(1)
			c.put(e)
			continue
		}
		c.misses.Add(1)
		if err := c.render(ctx, key, r); err != nil {
			errs = append(errs, fmt.Errorf("tts: prewarm request %d (key %s): %w", i, key, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Cache) render(ctx context.Context, key string, r Request) error {
	src, err := c.next.Synthesize(ctx, r)
	if err != nil {
		return err
	}
	defer closeSource(src)
	var pcm []int16
	for {
		f, err := src.Read(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		pcm = append(pcm, f.Samples...)
	}
	c.store(ctx, &cacheEntry{key: key, rate: src.Format().Rate, pcm: pcm})
	return nil
}

// Stats returns counters and the memory level's size.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n, b := c.lru.Len(), c.bytes
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), SharedHits: c.sharedHits.Load(), Misses: c.misses.Load(),
		Evictions: c.evictions.Load(), SharedErrors: c.sharedErrors.Load(), Entries: n, Bytes: b}
}

func (c *Cache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

// put adds e to memory, evicting the least recently used entries beyond MaxBytes.
func (c *Cache) put(e *cacheEntry) {
	size := int64(2 * len(e.pcm))
	if size > c.cfg.MaxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		c.bytes -= int64(2 * len(el.Value.(*cacheEntry).pcm))
		c.lru.Remove(el)
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.bytes += size
	for c.bytes > c.cfg.MaxBytes {
		old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
		delete(c.items, old.key)
		c.bytes -= int64(2 * len(old.pcm))
		c.evictions.Add(1)
	}
}

// store puts e in both levels.
func (c *Cache) store(ctx context.Context, e *cacheEntry) {
	c.put(e)
	if c.cfg.Shared == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.SharedTimeout)
	defer cancel()
	if err := c.cfg.Shared.Set(sctx, e.key, encodeEntry(e)); err != nil {
		c.sharedErrors.Add(1)
		c.log.Warn().Err(err).Str("key", e.key).Msg("shared cache set failed")
	}
}

// fromShared loads key from the shared level; nil when absent, unusable or the shared level fails.
func (c *Cache) fromShared(ctx context.Context, key string) *cacheEntry {
	if c.cfg.Shared == nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.SharedTimeout)
	defer cancel()
	b, ok, err := c.cfg.Shared.Get(sctx, key)
	if err != nil {
		c.sharedErrors.Add(1)
		c.log.Warn().Err(err).Str("key", key).Msg("shared cache get failed")
		return nil
	}
	if !ok {
		return nil
	}
	e, err := decodeEntry(key, b)
	if err != nil {
		c.sharedErrors.Add(1)
		c.log.Warn().Err(err).Str("key", key).Msg("ignoring cached value")
		return nil
	}
	return e
}

// Cached values: "OTS1", rate as uint32 big-endian, then PCM16 little-endian samples.
const entryMagic = "OTS1"

func encodeEntry(e *cacheEntry) []byte {
	b := make([]byte, 8, 8+2*len(e.pcm))
	copy(b, entryMagic)
	binary.BigEndian.PutUint32(b[4:], uint32(e.rate))
	return audio.AppendPCM16LE(b, e.pcm)
}

func decodeEntry(key string, b []byte) (*cacheEntry, error) {
	if len(b) < 8 || string(b[:4]) != entryMagic {
		return nil, fmt.Errorf("%w: %d bytes without the %q header", ErrCacheValue, len(b), entryMagic)
	}
	rate := binary.BigEndian.Uint32(b[4:])
	if rate < 1000 || rate > 192000 || (len(b)-8)%2 != 0 {
		return nil, fmt.Errorf("%w: rate %d, %d bytes of samples", ErrCacheValue, rate, len(b)-8)
	}
	return &cacheEntry{key: key, rate: int(rate), pcm: audio.PCM16LE(nil, b[8:])}, nil
}

// pcmSource plays stored audio in 20 ms frames; each Read copies one frame, so the stored audio stays intact.
type pcmSource struct {
	rate int
	pcm  []int16
}

func (s *pcmSource) Format() audio.Format { return audio.Format{Rate: s.rate} }

// Duration implements Sized: a cached prompt's length is known.
func (s *pcmSource) Duration() time.Duration { return audio.Format{Rate: s.rate}.Duration(len(s.pcm)) }

func (s *pcmSource) Read(ctx context.Context) (audio.Frame, error) {
	if err := ctx.Err(); err != nil {
		return audio.Frame{}, err
	}
	if len(s.pcm) == 0 {
		return audio.Frame{}, io.EOF
	}
	n := min(s.rate/50, len(s.pcm))
	f := audio.Frame{Rate: s.rate, Samples: make([]int16, n)}
	copy(f.Samples, s.pcm)
	s.pcm = s.pcm[n:]
	return f, nil
}

// teeSource passes a rendering through and stores it once read to io.EOF.
type teeSource struct {
	src   audio.Source
	cache *Cache
	key   string
	pcm   []int16
	bad   bool
}

func (s *teeSource) Format() audio.Format { return s.src.Format() }

func (s *teeSource) Read(ctx context.Context) (audio.Frame, error) {
	f, err := s.src.Read(ctx)
	switch {
	case err == io.EOF && !s.bad:
		s.bad = true // store once
		s.cache.store(ctx, &cacheEntry{key: s.key, rate: s.src.Format().Rate, pcm: s.pcm})
		s.pcm = nil
	case err != nil:
		s.bad, s.pcm = true, nil
	case !s.bad:
		if len(s.pcm)+len(f.Samples) > math.MaxInt32 {
			s.bad, s.pcm = true, nil
		} else {
			s.pcm = append(s.pcm, f.Samples...)
		}
	}
	return f, err
}

// Close closes the wrapped Source if it is an io.Closer; what was read is not cached.
func (s *teeSource) Close() error {
	s.bad, s.pcm = true, nil
	return closeSource(s.src)
}

func closeSource(src audio.Source) error {
	if c, ok := src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
