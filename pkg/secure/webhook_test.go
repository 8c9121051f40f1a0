package secure

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

var hookSecret = []byte("webhook-secret-0123456789")

type receiver struct {
	mu       sync.Mutex
	statuses []int // answers to give, in order; then 200
	got      []*http.Request
	bodies   [][]byte
	verrs    []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := VerifyRequest(r, hookSecret, 5*time.Minute, time.Now())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, body)
	rc.verrs = append(rc.verrs, err)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(status)
}

func TestWebhookSignsAndRetries(t *testing.T) {
	rc := &receiver{statuses: []int{503, 500, 429}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	hook, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: hookSecret, BackoffMin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"call_id": "c-1", "risk": "high"}
	if err := hook.Send(context.Background(), "risk.alert", "idem-1", payload); err != nil {
		t.Fatal(err)
	}
	if len(rc.got) != 4 {
		t.Fatalf("receiver saw %d attempts, want 4 (3 retried failures + success)", len(rc.got))
	}
	for i, r := range rc.got {
		if rc.verrs[i] != nil {
			t.Fatalf("attempt %d signature: %v", i, rc.verrs[i])
		}
		if r.Header.Get(HeaderIdempotency) != "idem-1" || r.Header.Get(HeaderEvent) != "risk.alert" {
			t.Fatalf("attempt %d headers: %v", i, r.Header)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(rc.bodies[3], &got); err != nil || got["risk"] != "high" {
		t.Fatalf("body %s, %v", rc.bodies[3], err)
	}
}

func TestWebhookFinalRefusalIsNotRetried(t *testing.T) {
	rc := &receiver{statuses: []int{400}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	hook, _ := NewWebhook(WebhookConfig{URL: srv.URL, Secret: hookSecret, BackoffMin: time.Millisecond})
	err := hook.Send(context.Background(), "sms.request", "", map[string]string{"template": "reminder"})
	var de *DeliveryError
	if !errors.As(err, &de) || de.Status != 400 || de.Attempts != 1 {
		t.Fatalf("err = %v, want a DeliveryError after 1 attempt with status 400", err)
	}
	if len(rc.got) != 1 {
		t.Fatalf("a 400 was retried: %d attempts", len(rc.got))
	}
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	rc := &receiver{statuses: []int{500, 500, 500, 500, 500}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	hook, _ := NewWebhook(WebhookConfig{URL: srv.URL, Secret: hookSecret, BackoffMin: time.Millisecond, MaxAttempts: 3})
	err := hook.Send(context.Background(), "outcome", "", 1)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 3 || de.Status != 500 {
		t.Fatalf("err = %v, want DeliveryError after 3 attempts", err)
	}
}

func TestVerifyRequestRejects(t *testing.T) {
	now := time.Now()
	body := []byte(`{"a":1}`)
	mk := func(ts time.Time, sig string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", jsonReader(body))
		r.Header.Set(HeaderTimestamp, itoa(ts.Unix()))
		r.Header.Set(HeaderSignature, sig)
		return r
	}
	cases := map[string]*http.Request{
		"wrong secret": mk(now, Sign([]byte("other-secret-0123456"), now, body)),
		"stale":        mk(now.Add(-10*time.Minute), Sign(hookSecret, now.Add(-10*time.Minute), body)),
		"no signature": mk(now, ""),
		"altered body": mk(now, Sign(hookSecret, now, []byte(`{"a":2}`))),
		"bad timestamp": func() *http.Request {
			r := mk(now, Sign(hookSecret, now, body))
			r.Header.Set(HeaderTimestamp, "x")
			return r
		}(),
	}
	for name, r := range cases {
		if _, err := VerifyRequest(r, hookSecret, 5*time.Minute, now); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := VerifyRequest(mk(now, Sign(hookSecret, now, body)), hookSecret, 5*time.Minute, now); err != nil {
		t.Errorf("good request rejected: %v", err)
	}
}
