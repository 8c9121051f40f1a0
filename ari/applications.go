package ari

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Application is a registered Stasis application (GET /applications/{name}).
type Application struct {
	Name        string   `json:"name"`
	ChannelIDs  []string `json:"channel_ids"`
	BridgeIDs   []string `json:"bridge_ids"`
	EndpointIDs []string `json:"endpoint_ids"`
	DeviceNames []string `json:"device_names"`
}

// GetApplication returns a registered application; ErrNotFound when Asterisk has no such application (no events
// socket holds it).
func (c *Client) GetApplication(ctx context.Context, name string) (Application, error) {
	var a Application
	err := c.do(ctx, request{op: "GetApplication", method: http.MethodGet, path: "/applications/" + seg(name)}, &a)
	return a, err
}

// appSettle is how long after an events socket opens the client probes it a second time: see probe.
const appSettle = 100 * time.Millisecond

// probeTimeout bounds the wait for a probe's event.
const probeTimeout = time.Second

// probePrefix starts the name of the user events the client raises to probe its own socket.
const probePrefix = "outcall-probe-"

// probe checks end to end that Asterisk delivers the application's events to this client: it raises a user
// event for the application (POST /events/user/{name}?application=App) and waits for the ChannelUserevent. When
// conn is given (a socket not yet served) it reads the socket itself, dispatching the other events it meets;
// otherwise serve hands the probe's event over.
//
// Asterisk 23 can open an events socket and then lose its application: when the previous socket of the same
// application closed just before, that session's cleanup runs after the new registration and unregisters the
// application by name (res/ari/ari_websockets.c, session_unregister_app_cb). The socket stays open and deaf, and
// while the application still has channels or bridges, GET /applications/{name} even goes on listing it. Seen on
// 23.5: 1-2 in 60 clients reopened at once, and a whole 100 s soak run, got no StasisStart at all.
func (c *Client) probe(ctx context.Context, conn *websocket.Conn) error {
	app := strings.TrimSpace(strings.Split(c.cfg.App, ",")[0])
	name := probePrefix + NewID("p")
	ch := make(chan struct{})
	c.probes.Lock()
	if c.probes.m == nil {
		c.probes.m = map[string]chan struct{}{}
	}
	c.probes.m[name] = ch
	c.probes.Unlock()
	defer func() {
		c.probes.Lock()
		delete(c.probes.m, name)
		c.probes.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	q := url.Values{"application": {app}}
	if err := c.do(ctx, request{op: "UserEvent", method: http.MethodPost, path: "/events/user/" + seg(name), query: q}, nil); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w %q (%v)", ErrAppNotRegistered, app, err)
		}
		return err
	}
	if conn == nil {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w %q: its probe event did not arrive within %v", ErrAppNotRegistered, app, probeTimeout)
		}
	}
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w %q: its probe event did not arrive within %v", ErrAppNotRegistered, app, probeTimeout)
			}
			return err
		}
		if typ != websocket.MessageText {
			continue
		}
		ev, err := DecodeEvent(data)
		if err != nil {
			c.stats.malformed.Add(1)
			continue
		}
		if c.probeEvent(ev) {
			select {
			case <-ch:
				return nil
			default: // another probe's event
			}
			continue
		}
		c.stats.events.Add(1)
		c.dispatch(ev)
	}
}

// probeEvent reports whether ev is a probe's event, and hands it to its waiter.
func (c *Client) probeEvent(ev Event) bool {
	ue, ok := ev.(*ChannelUserevent)
	if !ok || !strings.HasPrefix(ue.EventName, probePrefix) {
		return false
	}
	c.probes.Lock()
	if ch, ok := c.probes.m[ue.EventName]; ok {
		close(ch)
		delete(c.probes.m, ue.EventName)
	}
	c.probes.Unlock()
	return true
}
