package ari

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
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

// appSettle is how long after an events socket opens the client checks a second time that Asterisk still holds
// the application: see appsRegistered.
const appSettle = 100 * time.Millisecond

// appsRegistered reports whether Asterisk holds every application of the client. Asterisk 23 can open an events
// socket and then lose its application: when the previous socket of the same application closed a moment before,
// that socket's cleanup runs after the new registration and unregisters the application by name
// (res/ari/ari_websockets.c, session_unregister_app_cb), leaving the new socket connected and deaf. Seen on 23.5:
// 2 of 60 clients reopened at once got no StasisStart at all.
func (c *Client) appsRegistered(ctx context.Context) (bool, error) {
	for _, app := range strings.Split(c.cfg.App, ",") {
		if app = strings.TrimSpace(app); app == "" {
			continue
		}
		if _, err := c.GetApplication(ctx, app); err != nil {
			if errors.Is(err, ErrNotFound) {
				return false, nil
			}
			return false, err
		}
	}
	return true, nil
}
