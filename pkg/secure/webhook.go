package secure

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Webhook request headers.
const (
	HeaderTimestamp   = "X-Outcall-Timestamp" // Unix seconds when the request was signed
	HeaderSignature   = "X-Outcall-Signature" // "v1=" + hex HMAC-SHA256 of timestamp + "." + body
	HeaderIdempotency = "Idempotency-Key"     // the same for every retry of one notification
	HeaderEvent       = "X-Outcall-Event"     // the notification's kind, e.g. "risk.alert"
)

// Sign returns the signature header value for body signed at ts with secret.
func Sign(secret []byte, ts time.Time, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return "v1=" + hex.EncodeToString(h.Sum(nil))
}

// VerifyRequest checks a received webhook's signature and timestamp (within tolerance of now) and returns its
// body. Receivers use it; it is also how the tests check what Webhook sends.
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration, now time.Time) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		return nil, err
	}
	tsText := r.Header.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: timestamp %q", ErrBadSignature, tsText)
	}
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return nil, fmt.Errorf("%w: timestamp %s is outside the %s tolerance", ErrBadSignature, at.UTC(), tolerance)
	}
	want := Sign(secret, at, body)
	for _, sig := range strings.Split(r.Header.Get(HeaderSignature), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			return body, nil
		}
	}
	return nil, fmt.Errorf("%w: signature does not match", ErrBadSignature)
}

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	URL         string           // receiver; required
	Secret      []byte           // HMAC key shared with the receiver; required, at least 16 bytes
	Timeout     time.Duration    // per attempt; default: 5s
	MaxAttempts int              // default: 5
	BackoffMin  time.Duration    // first retry delay; default: 200ms
	BackoffMax  time.Duration    // default: 10s
	Client      *http.Client     // default: a client with Timeout
	Logger      zerolog.Logger   // default: zerolog.Nop()
	Now         func() time.Time // default: time.Now
}

// Webhook delivers signed JSON notifications (risk alerts, doctor-workstation sync, SMS requests, outcomes) with
// retries and an idempotency key, so a receiver that sees a retry can tell it already acted.
type Webhook struct {
	cfg WebhookConfig
}

// NewWebhook checks cfg and fills its defaults.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.URL == "" {
		return nil, errors.New("secure: webhook URL is required")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("secure: webhook secret must be at least 16 bytes")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 200 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Webhook{cfg: cfg}, nil
}

// DeliveryError reports a notification that was not accepted.
type DeliveryError struct {
	Event    string
	Attempts int
	Status   int // last HTTP status, 0 when no response came
	Err      error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("secure: webhook %s not delivered after %d attempt(s) (status %d): %v", e.Event, e.Attempts,
		e.Status, e.Err)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Send posts payload as JSON under event. It retries network errors, 429 and 5xx with exponential backoff and
// jitter; other 4xx answers are final. idempotencyKey may be empty (a random one is chosen).
func (w *Webhook) Send(ctx context.Context, event, idempotencyKey string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("secure: webhook payload: %w", err)
	}
	if idempotencyKey == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		idempotencyKey = hex.EncodeToString(b[:])
	}
	var last error
	status := 0
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		var retry bool
		status, retry, last = w.attempt(ctx, event, idempotencyKey, body)
		if last == nil {
			return nil
		}
		w.cfg.Logger.Warn().Str("event", event).Int("attempt", attempt).Int("status", status).Err(last).
			Msg("webhook attempt failed")
		if !retry || attempt == w.cfg.MaxAttempts {
			return &DeliveryError{Event: event, Attempts: attempt, Status: status, Err: last}
		}
		d := float64(w.cfg.BackoffMin) * math.Pow(2, float64(attempt-1))
		d = math.Min(d, float64(w.cfg.BackoffMax))
		d = d/2 + mrand.Float64()*d/2
		select {
		case <-ctx.Done():
			return &DeliveryError{Event: event, Attempts: attempt, Status: status, Err: ctx.Err()}
		case <-time.After(time.Duration(d)):
		}
	}
	return &DeliveryError{Event: event, Attempts: w.cfg.MaxAttempts, Status: status, Err: last}
}

func (w *Webhook) attempt(ctx context.Context, event, key string, body []byte) (status int, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	now := w.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, now, body))
	req.Header.Set(HeaderIdempotency, key)
	req.Header.Set(HeaderEvent, event)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return resp.StatusCode, true, fmt.Errorf("receiver answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return resp.StatusCode, false, fmt.Errorf("receiver refused with %s: %s", resp.Status, bytes.TrimSpace(msg))
}
