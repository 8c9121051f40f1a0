package ari

import (
	"context"
	"net/http"
	"strings"
)

// Module is a loaded Asterisk module (GET /asterisk/modules/{name}).
type Module struct {
	Name         string `json:"name"` // e.g. "chan_websocket.so"
	Description  string `json:"description"`
	UseCount     int    `json:"use_count"`
	Status       string `json:"status"`        // "Running"
	SupportLevel string `json:"support_level"` // "core", "extended", ...
}

// GetModule returns a running module by name, with or without the ".so" Asterisk wants; ErrNotFound when it is
// not loaded. Use it to check a feature before relying on it (chan_websocket exists from Asterisk 20.16, 21.11,
// 22.6 and 23.0).
func (c *Client) GetModule(ctx context.Context, name string) (Module, error) {
	if !strings.HasSuffix(name, ".so") {
		name += ".so" // without it Asterisk answers 409 "Module information could not be retrieved"
	}
	var m Module
	err := c.do(ctx, request{op: "GetModule", method: http.MethodGet, path: "/asterisk/modules/" + seg(name)}, &m)
	return m, err
}
