package ari

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// CreateBridgeParams are the parameters of CreateBridge.
type CreateBridgeParams struct {
	Type     string // comma-separated: mixing, holding, dtmf_events, proxy_media, video_sfu, ...; default: Asterisk's mixing
	BridgeID string // client-chosen id (see NewID); default: Asterisk chooses
	Name     string // display name
}

// CreateBridge creates a bridge (POST /bridges).
func (c *Client) CreateBridge(ctx context.Context, p CreateBridgeParams) (Bridge, error) {
	q := params{}
	q.set("type", p.Type)
	q.set("bridgeId", p.BridgeID)
	q.set("name", p.Name)
	var b Bridge
	err := c.do(ctx, request{op: "CreateBridge", method: http.MethodPost, path: "/bridges", query: url.Values(q)}, &b)
	return b, err
}

// ListBridges returns every bridge (GET /bridges).
func (c *Client) ListBridges(ctx context.Context) ([]Bridge, error) {
	var bs []Bridge
	err := c.do(ctx, request{op: "ListBridges", method: http.MethodGet, path: "/bridges"}, &bs)
	return bs, err
}

// GetBridge returns one bridge (GET /bridges/{id}).
func (c *Client) GetBridge(ctx context.Context, id string) (Bridge, error) {
	var b Bridge
	err := c.do(ctx, request{op: "GetBridge", method: http.MethodGet, path: "/bridges/" + seg(id)}, &b)
	return b, err
}

// DestroyBridge destroys a bridge; its channels leave it but are not hung up (DELETE /bridges/{id}).
func (c *Client) DestroyBridge(ctx context.Context, id string) error {
	return c.do(ctx, request{op: "DestroyBridge", method: http.MethodDelete, path: "/bridges/" + seg(id)}, nil)
}

// AddChannelParams are the parameters of AddChannel.
type AddChannelParams struct {
	Channels   []string // required channel ids
	Role       string   // channel role in the bridge
	AbsorbDTMF bool     // absorb DTMF coming from the channels
	Mute       bool     // mute audio from the channels
}

// AddChannel adds channels to a bridge (POST /bridges/{id}/addChannel).
func (c *Client) AddChannel(ctx context.Context, bridgeID string, p AddChannelParams) error {
	q := params{}
	q.set("channel", strings.Join(p.Channels, ","))
	q.set("role", p.Role)
	q.setBool("absorbDTMF", p.AbsorbDTMF)
	q.setBool("mute", p.Mute)
	return c.do(ctx, request{op: "AddChannel", method: http.MethodPost, path: "/bridges/" + seg(bridgeID) + "/addChannel", query: url.Values(q)}, nil)
}

// RemoveChannel removes channels from a bridge (POST /bridges/{id}/removeChannel).
func (c *Client) RemoveChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	q := params{}
	q.set("channel", strings.Join(channelIDs, ","))
	return c.do(ctx, request{op: "RemoveChannel", method: http.MethodPost, path: "/bridges/" + seg(bridgeID) + "/removeChannel", query: url.Values(q)}, nil)
}

// BridgePlay plays media to every channel of a bridge (POST /bridges/{id}/play).
func (c *Client) BridgePlay(ctx context.Context, bridgeID string, p PlayParams) (Playback, error) {
	var pb Playback
	err := c.do(ctx, request{op: "BridgePlay", method: http.MethodPost, path: "/bridges/" + seg(bridgeID) + "/play", query: p.query()}, &pb)
	return pb, err
}

// BridgeRecord records a bridge's mixed audio (POST /bridges/{id}/record).
func (c *Client) BridgeRecord(ctx context.Context, bridgeID string, p RecordParams) (LiveRecording, error) {
	var r LiveRecording
	err := c.do(ctx, request{op: "BridgeRecord", method: http.MethodPost, path: "/bridges/" + seg(bridgeID) + "/record", query: p.query()}, &r)
	return r, err
}

// Ping checks that Asterisk answers (GET /asterisk/ping, Asterisk 13.25/16.2 and later).
func (c *Client) Ping(ctx context.Context) error {
	var v struct {
		Ping string `json:"ping"`
	}
	return c.do(ctx, request{op: "Ping", method: http.MethodGet, path: "/asterisk/ping"}, &v)
}
