package ari

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// Playback control operations accepted by ControlPlayback.
const (
	PlaybackRestart = "restart"
	PlaybackPause   = "pause"
	PlaybackUnpause = "unpause"
	PlaybackReverse = "reverse"
	PlaybackForward = "forward"
)

// GetPlayback returns a playback (GET /playbacks/{id}).
func (c *Client) GetPlayback(ctx context.Context, id string) (Playback, error) {
	var pb Playback
	err := c.do(ctx, request{op: "GetPlayback", method: http.MethodGet, path: "/playbacks/" + seg(id)}, &pb)
	return pb, err
}

// StopPlayback stops a playback (DELETE /playbacks/{id}).
func (c *Client) StopPlayback(ctx context.Context, id string) error {
	return c.do(ctx, request{op: "StopPlayback", method: http.MethodDelete, path: "/playbacks/" + seg(id)}, nil)
}

// ControlPlayback controls a playback with one of the Playback* operations (POST /playbacks/{id}/control).
func (c *Client) ControlPlayback(ctx context.Context, id, operation string) error {
	q := params{}
	q.set("operation", operation)
	return c.do(ctx, request{op: "ControlPlayback", method: http.MethodPost, path: "/playbacks/" + seg(id) + "/control", query: url.Values(q)}, nil)
}

// GetLiveRecording returns a recording in progress (GET /recordings/live/{name}).
func (c *Client) GetLiveRecording(ctx context.Context, name string) (LiveRecording, error) {
	var r LiveRecording
	err := c.do(ctx, request{op: "GetLiveRecording", method: http.MethodGet, path: "/recordings/live/" + seg(name)}, &r)
	return r, err
}

// StopRecording stops a live recording and stores it (POST /recordings/live/{name}/stop).
func (c *Client) StopRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "StopRecording", method: http.MethodPost, path: "/recordings/live/" + seg(name) + "/stop"}, nil)
}

// CancelRecording stops a live recording and discards it (DELETE /recordings/live/{name}).
func (c *Client) CancelRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "CancelRecording", method: http.MethodDelete, path: "/recordings/live/" + seg(name)}, nil)
}

// PauseRecording pauses a live recording (POST /recordings/live/{name}/pause).
func (c *Client) PauseRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "PauseRecording", method: http.MethodPost, path: "/recordings/live/" + seg(name) + "/pause"}, nil)
}

// UnpauseRecording resumes a paused recording (DELETE /recordings/live/{name}/pause).
func (c *Client) UnpauseRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "UnpauseRecording", method: http.MethodDelete, path: "/recordings/live/" + seg(name) + "/pause"}, nil)
}

// MuteRecording records silence instead of audio until unmuted (POST /recordings/live/{name}/mute).
func (c *Client) MuteRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "MuteRecording", method: http.MethodPost, path: "/recordings/live/" + seg(name) + "/mute"}, nil)
}

// UnmuteRecording unmutes a recording (DELETE /recordings/live/{name}/mute).
func (c *Client) UnmuteRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "UnmuteRecording", method: http.MethodDelete, path: "/recordings/live/" + seg(name) + "/mute"}, nil)
}

// ListStoredRecordings returns the stored recordings (GET /recordings/stored).
func (c *Client) ListStoredRecordings(ctx context.Context) ([]StoredRecording, error) {
	var rs []StoredRecording
	err := c.do(ctx, request{op: "ListStoredRecordings", method: http.MethodGet, path: "/recordings/stored"}, &rs)
	return rs, err
}

// GetStoredRecording returns a stored recording (GET /recordings/stored/{name}).
func (c *Client) GetStoredRecording(ctx context.Context, name string) (StoredRecording, error) {
	var r StoredRecording
	err := c.do(ctx, request{op: "GetStoredRecording", method: http.MethodGet, path: "/recordings/stored/" + seg(name)}, &r)
	return r, err
}

// DeleteStoredRecording deletes a stored recording (DELETE /recordings/stored/{name}).
func (c *Client) DeleteStoredRecording(ctx context.Context, name string) error {
	return c.do(ctx, request{op: "DeleteStoredRecording", method: http.MethodDelete, path: "/recordings/stored/" + seg(name)}, nil)
}

// CopyStoredRecording copies a stored recording (POST /recordings/stored/{name}/copy).
func (c *Client) CopyStoredRecording(ctx context.Context, name, destination string) (StoredRecording, error) {
	q := params{}
	q.set("destinationRecordingName", destination)
	var r StoredRecording
	err := c.do(ctx, request{op: "CopyStoredRecording", method: http.MethodPost, path: "/recordings/stored/" + seg(name) + "/copy", query: url.Values(q)}, &r)
	return r, err
}

// StoredRecordingFile streams a stored recording's file (GET /recordings/stored/{name}/file). The caller must
// close the reader; the request timeout covers the whole download.
func (c *Client) StoredRecordingFile(ctx context.Context, name string) (io.ReadCloser, error) {
	resp, cancel, err := c.send(ctx, request{op: "StoredRecordingFile", method: http.MethodGet, path: "/recordings/stored/" + seg(name) + "/file"})
	if err != nil {
		return nil, err
	}
	return &cancelReadCloser{ReadCloser: resp.Body, cancel: cancel}, nil
}

type cancelReadCloser struct {
	io.ReadCloser
	cancel func()
}

func (r *cancelReadCloser) Close() error {
	err := r.ReadCloser.Close()
	r.cancel()
	return err
}
