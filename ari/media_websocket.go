package ari

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// DialMedia connects to chan_websocket's /media/<id> on the ARI HTTP server, with the client's credentials
// (chan_websocket's "media" subprotocol); the caller sets the connection's read limit and owns it.
func (c *Client) DialMedia(ctx context.Context, id string) (*websocket.Conn, error) {
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.') {
			return nil, fmt.Errorf("ari: chan_websocket connection id %q has unexpected characters", id)
		}
	}
	if id == "" {
		return nil, errors.New("ari: empty chan_websocket connection id")
	}
	u := *c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/ari") + "/media/" + id
	h := http.Header{}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.cfg.Username+":"+c.cfg.Password)))
	}
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:   c.cfg.HTTPClient,
		HTTPHeader:   h,
		Subprotocols: []string{"media"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			return nil, readError("MediaWebSocket", resp)
		}
		return nil, fmt.Errorf("ari: MediaWebSocket: %w", err)
	}
	return conn, nil
}
