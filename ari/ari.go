// Package ari is the Asterisk REST Interface client: typed REST calls, a self-healing events WebSocket, and
// per-channel event subscriptions. The call driver that turns it into a call.Dialer is ari/driver.
package ari

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Client. URL and App are required; every other field has a default.
type Config struct {
	// URL is Asterisk's HTTP base, e.g. "http://127.0.0.1:8088"; "/ari" is appended when the path lacks it.
	URL string
	// Username and Password are the ari.conf user, sent as HTTP Basic auth. default: the URL's user info, if
	// any; else none (no auth header)
	Username string
	Password string
	// App is the Stasis application name the events WebSocket subscribes to.
	App string
	// RequestTimeout bounds each REST request (on top of the caller's context). default: 10s
	RequestTimeout time.Duration
	// ReconnectMin is the first backoff delay after the events WebSocket drops. default: 250ms
	ReconnectMin time.Duration
	// ReconnectMax caps the exponential backoff. default: 30s
	ReconnectMax time.Duration
	// PingInterval is the keepalive period of the events WebSocket; a ping unanswered within one interval drops
	// the socket and reconnects. Negative disables pings. default: 10s
	PingInterval time.Duration
	// ProbeInterval is how often the client checks that Asterisk still delivers the application's events to its
	// socket, by raising a user event for the application (POST /events/user) and waiting for it: Asterisk 23 can
	// keep a socket open while the application is unregistered under it (another socket of the same name closing),
	// and the client then redials. The same probe runs, twice, on every new connection before it is used.
	// Negative disables the probe, periodic and on connecting (a server that is not Asterisk). default: 2s
	ProbeInterval time.Duration
	// EventBuffer is each subscription's queue length; when full, events for it are dropped, counted and reported
	// with an *Overflow event. default: 1024
	EventBuffer int
	// Logger receives the client's logs; phone numbers and secrets are never logged. default: zerolog.Nop()
	Logger zerolog.Logger
	// HTTPClient sends REST requests and dials the WebSocket. default: a new http.Client without a global timeout
	HTTPClient *http.Client
	// Hooks are called on connection lifecycle changes. default: none
	Hooks Hooks
}

// Hooks are lifecycle callbacks of the events WebSocket. OnConnected runs in Start and OnDisconnected on the
// connection goroutine (no events are read meanwhile); OnReconnected runs on its own goroutine while events flow
// again. Hooks must not call Client.Close, which waits for them.
type Hooks struct {
	// OnConnected is called once, when Start's first connection is up.
	OnConnected func()
	// OnDisconnected is called when an established events WebSocket drops, with the reason.
	OnDisconnected func(err error)
	// OnReconnected is called after a reconnect, with the channels that are still alive (GET /channels, listed
	// after the new socket was up), so the application can reconcile calls whose events it may have missed.
	OnReconnected func(live []Channel)
}

// Config defaults.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultReconnectMin   = 250 * time.Millisecond
	DefaultReconnectMax   = 30 * time.Second
	DefaultPingInterval   = 10 * time.Second
	DefaultEventBuffer    = 1024
)

// ConfigFromEnv reads ARI_URL, ARI_USERNAME, ARI_PASSWORD and ARI_APP. When none is set it returns ErrNotConfigured
// (callers may then fall back to a simulator); when some are set but ARI_URL or ARI_APP is missing, it returns an
// error naming what is missing.
func ConfigFromEnv() (Config, error) {
	vars := []string{"ARI_URL", "ARI_USERNAME", "ARI_PASSWORD", "ARI_APP"}
	vals := make(map[string]string, len(vars))
	any := false
	for _, k := range vars {
		vals[k] = strings.TrimSpace(os.Getenv(k))
		if vals[k] != "" {
			any = true
		}
	}
	if !any {
		return Config{}, ErrNotConfigured
	}
	var missing []string
	for _, k := range []string{"ARI_URL", "ARI_APP"} {
		if vals[k] == "" {
			missing = append(missing, k)
		}
	}
	if (vals["ARI_USERNAME"] == "") != (vals["ARI_PASSWORD"] == "") {
		missing = append(missing, "ARI_USERNAME and ARI_PASSWORD together")
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("%w: missing %s", ErrIncompleteConfig, strings.Join(missing, ", "))
	}
	cfg := Config{URL: vals["ARI_URL"], Username: vals["ARI_USERNAME"], Password: vals["ARI_PASSWORD"], App: vals["ARI_APP"]}
	if _, err := cfg.baseURL(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ErrNotConfigured is returned by ConfigFromEnv when no ARI_* variable is set.
var ErrNotConfigured = errors.New("ari: not configured (ARI_URL unset)")

// ErrIncompleteConfig is returned when a configuration is chosen but incomplete.
var ErrIncompleteConfig = errors.New("ari: incomplete configuration")

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 2 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c
}

// baseURL parses URL and returns it with the "/ari" path, without a trailing slash.
func (c Config) baseURL() (*url.URL, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("%w: URL is empty", ErrIncompleteConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL: %v", ErrIncompleteConfig, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: URL scheme %q is not http or https", ErrIncompleteConfig, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: URL has no host", ErrIncompleteConfig)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/ari") {
		p += "/ari"
	}
	u.Path = p
	u.RawQuery = ""
	u.Fragment = ""
	u.User = nil
	return u, nil
}
