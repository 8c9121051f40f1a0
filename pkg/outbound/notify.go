package outbound

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

// Notifier carries out a script's notifications (it is a dialog.Notifier): "sms" is printed (an SMS gateway would
// send it), every other channel ("alert", "webhook") is delivered as a signed webhook (secure.Webhook) with event
// "<channel>.<to>". Webhooks go to WEBHOOK_URL signed with WEBHOOK_SECRET when set, else to an in-process receiver
// on 127.0.0.1 that verifies each signature and prints what it got, standing in for the systems notifications
// reach (a risk team's console, a doctor's workstation, a work-order system). Safe for concurrent use.
type Notifier struct {
	hook *secure.Webhook
	out  *lockedWriter
	rcv  *receiver // nil with WEBHOOK_URL

	mu   sync.Mutex
	sent []dialog.Notification
}

// Received is one webhook the in-process receiver verified.
type Received struct {
	Event string // "<channel>.<to>", e.g. alert.risk-team
	Text  string // the notification's text
}

// NewNotifier returns a Notifier that prints to out (nil: nowhere), reading WEBHOOK_URL and WEBHOOK_SECRET.
// Close it when done.
func NewNotifier(out io.Writer) (*Notifier, error) {
	url, secret := strings.TrimSpace(os.Getenv("WEBHOOK_URL")), os.Getenv("WEBHOOK_SECRET")
	n := &Notifier{out: lock(out)}
	if url == "" {
		if secret != "" {
			return nil, fmt.Errorf("%w: WEBHOOK_SECRET is set without WEBHOOK_URL", ErrConfig)
		}
		rcv, err := startReceiver(n.out)
		if err != nil {
			return nil, err
		}
		n.rcv, url, secret = rcv, rcv.url, string(rcv.secret)
	} else if len(secret) < 16 {
		return nil, fmt.Errorf("%w: WEBHOOK_URL needs WEBHOOK_SECRET of at least 16 bytes", ErrConfig)
	}
	hook, err := secure.NewWebhook(secure.WebhookConfig{URL: url, Secret: []byte(secret), MaxAttempts: 2})
	if err != nil {
		_ = n.Close()
		return nil, err
	}
	n.hook = hook
	return n, nil
}

// Notify implements dialog.Notifier.
func (n *Notifier) Notify(ctx context.Context, note dialog.Notification) error {
	n.mu.Lock()
	n.sent = append(n.sent, note)
	n.mu.Unlock()
	if note.Channel == "sms" {
		n.out.printf("  [sms] %s\n", redactor.Redact(note.Text))
		return nil
	}
	event := note.Channel
	if note.To != "" {
		event += "." + note.To
	}
	return n.hook.Send(ctx, event, note.CallID+"/"+note.Node, map[string]any{
		"call_id": note.CallID, "channel": note.Channel, "to": note.To, "node": note.Node, "text": note.Text})
}

// Sent returns every notification carried out so far.
func (n *Notifier) Sent() []dialog.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]dialog.Notification(nil), n.sent...)
}

// Received returns the webhooks the in-process receiver verified so far; none with WEBHOOK_URL.
func (n *Notifier) Received() []Received {
	if n.rcv == nil {
		return nil
	}
	n.rcv.mu.Lock()
	defer n.rcv.mu.Unlock()
	return append([]Received(nil), n.rcv.received...)
}

// Close stops the in-process receiver, if any.
func (n *Notifier) Close() error {
	if n == nil || n.rcv == nil {
		return nil
	}
	// Every webhook was answered before its Notify returned: what is left are idle (or never used) keep-alive
	// connections, which Shutdown would wait for; a short grace, then they are closed.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := n.rcv.srv.Shutdown(ctx); err != nil {
		return n.rcv.srv.Close()
	}
	return nil
}

// receiver is the in-process webhook receiver.
type receiver struct {
	url    string
	secret []byte
	srv    *http.Server

	mu       sync.Mutex
	received []Received
}

func startReceiver(out *lockedWriter) (*receiver, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/hook", secret: secret}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := secure.VerifyRequest(req, r.secret, time.Minute, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p struct{ Text string }
		_ = json.Unmarshal(body, &p)
		rec := Received{Event: req.Header.Get(secure.HeaderEvent), Text: p.Text}
		// Printed before it is recorded: whoever sees it in Received sees the line printed too.
		out.printf("  [webhook %s, signature verified] %s\n", rec.Event, redactor.Redact(rec.Text))
		r.mu.Lock()
		r.received = append(r.received, rec)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "webhook receiver:", err)
		}
	}()
	return r, nil
}

// lockedWriter serialises the writes of the calls' goroutines, the webhook receiver and the program to one
// writer (a terminal, or a buffer in tests).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// lock wraps w, unless it is wrapped already; nil writes nowhere.
func lock(w io.Writer) *lockedWriter {
	if lw, ok := w.(*lockedWriter); ok {
		return lw
	}
	if w == nil {
		w = io.Discard
	}
	return &lockedWriter{w: w}
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) printf(format string, a ...any) { fmt.Fprintf(l, format, a...) }
