package exampleenv

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/secure"
)

// Notifier carries out a script's notifications: "sms" is printed (an SMS gateway would send it), every other
// channel ("alert", "webhook") is delivered as a signed webhook (secure.Webhook) with event "<channel>.<to>". It
// keeps every notification for the example's summary and tests. Safe for concurrent use.
type Notifier struct {
	hook *secure.Webhook
	out  io.Writer

	mu   sync.Mutex
	sent []dialog.Notification
}

// Sent returns the notifications carried out so far.
func (n *Notifier) Sent() []dialog.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]dialog.Notification(nil), n.sent...)
}

// Notify implements dialog.Notifier.
func (n *Notifier) Notify(ctx context.Context, note dialog.Notification) error {
	n.mu.Lock()
	n.sent = append(n.sent, note)
	n.mu.Unlock()
	if note.Channel == "sms" {
		if n.out != nil {
			fmt.Fprintf(n.out, "  [sms] %s\n", redactor.Redact(note.Text))
		}
		return nil
	}
	event := note.Channel
	if note.To != "" {
		event += "." + note.To
	}
	return n.hook.Send(ctx, event, note.CallID+"/"+note.Node, map[string]any{
		"call_id": note.CallID, "channel": note.Channel, "to": note.To, "node": note.Node, "text": note.Text})
}

// Receiver is an in-process webhook receiver standing in for the systems notifications reach (a risk team's
// console, a doctor's workstation, a work-order system). It verifies each request's signature.
type Receiver struct {
	URL    string
	secret []byte
	srv    *http.Server
	out    io.Writer

	mu       sync.Mutex
	received []Received
}

// Received is one verified webhook.
type Received struct {
	Event string
	Text  string
}

// Received returns the verified webhooks so far.
func (r *Receiver) Received() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.received...)
}

// Close stops the receiver.
func (r *Receiver) Close() error {
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}

// NewNotifier returns a Notifier whose webhooks go to WEBHOOK_URL signed with WEBHOOK_SECRET when set, else to an
// in-process Receiver on 127.0.0.1 (returned; nil with WEBHOOK_URL) that prints what it verifies to out.
func NewNotifier(out io.Writer) (*Notifier, *Receiver, error) {
	url, secret := strings.TrimSpace(os.Getenv("WEBHOOK_URL")), os.Getenv("WEBHOOK_SECRET")
	var rcv *Receiver
	if url == "" {
		if secret != "" {
			return nil, nil, fmt.Errorf("%w: WEBHOOK_SECRET is set without WEBHOOK_URL", ErrConfig)
		}
		var err error
		if rcv, err = startReceiver(out); err != nil {
			return nil, nil, err
		}
		url, secret = rcv.URL, string(rcv.secret)
	} else if len(secret) < 16 {
		return nil, nil, fmt.Errorf("%w: WEBHOOK_URL needs WEBHOOK_SECRET of at least 16 bytes", ErrConfig)
	}
	hook, err := secure.NewWebhook(secure.WebhookConfig{URL: url, Secret: []byte(secret), MaxAttempts: 2})
	if err != nil {
		_ = rcv.Close()
		return nil, nil, err
	}
	return &Notifier{hook: hook, out: out}, rcv, nil
}

func startReceiver(out io.Writer) (*Receiver, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &Receiver{URL: "http://" + ln.Addr().String() + "/hook", secret: secret, out: out}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := secure.VerifyRequest(req, r.secret, time.Minute, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p struct{ Text string }
		_ = json.Unmarshal(body, &p)
		rec := Received{Event: req.Header.Get(secure.HeaderEvent), Text: p.Text}
		r.mu.Lock()
		r.received = append(r.received, rec)
		r.mu.Unlock()
		if r.out != nil {
			fmt.Fprintf(r.out, "  [webhook %s, signature verified] %s\n", rec.Event, redactor.Redact(rec.Text))
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "webhook receiver:", err)
		}
	}()
	return r, nil
}
