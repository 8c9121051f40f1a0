package driver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/call"
)

// simRaw sends a request to the simulator with its credentials and returns the status and body.
func simRaw(t *testing.T, sim *aritest.Server, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, sim.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(sim.Username(), sim.Password())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSimExternalMediaBeforeStasis: like Asterisk, the simulator answers POST /channels/externalMedia with the
// channel still Down and outside the application, and refuses to bridge it until its StasisStart (422 with
// Asterisk's body); the StasisStart follows the response.
func TestSimExternalMediaBeforeStasis(t *testing.T) {
	for _, tc := range []struct{ enc, transport, host, format string }{
		{"rtp", "udp", "127.0.0.1:9", "ulaw"},
		{"audiosocket", "tcp", "", "slin"}, // host filled below: the simulator connects to it
	} {
		t.Run(tc.enc, func(t *testing.T) {
			sim := aritest.Start(t, aritest.Config{StasisDelay: time.Hour})
			client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if err := client.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			host := tc.host
			if host == "" {
				host = startDiscardTCP(t)
			}
			ch, err := client.ExternalMedia(ctx, ari.ExternalMediaParams{ChannelID: "em-1", ExternalHost: host,
				Format: tc.format, Encapsulation: tc.enc, Transport: tc.transport, Data: "0b8a1d3e-9f5c-4a5e-8f7d-1c2b3a4d5e6f"})
			if err != nil {
				t.Fatal(err)
			}
			if ch.State != "Down" {
				t.Errorf("ExternalMedia response state %q, want Down (Asterisk's snapshot before the dial thread runs)", ch.State)
			}
			if _, err := client.CreateBridge(ctx, ari.CreateBridgeParams{Type: "mixing", BridgeID: "br-1"}); err != nil {
				t.Fatal(err)
			}
			code, body := simRaw(t, sim, "POST", "/ari/bridges/br-1/addChannel?channel=em-1")
			var msg struct{ Message string }
			_ = json.Unmarshal([]byte(body), &msg)
			if code != http.StatusUnprocessableEntity || msg.Message != "Channel not in Stasis application" {
				t.Errorf("addChannel before StasisStart: %d %s, want 422 {\"message\":\"Channel not in Stasis application\"}", code, body)
			}
			code, body = simRaw(t, sim, "POST", "/ari/channels/em-1/answer")
			if code != http.StatusConflict || !strings.Contains(body, "Channel not in Stasis application") {
				t.Errorf("answer before StasisStart: %d %s, want 409", code, body)
			}
			// Hanging up is allowed outside Stasis, and nothing is left.
			if err := client.Hangup(ctx, "em-1", ari.ReasonNormal); err != nil {
				t.Fatal(err)
			}
			if err := client.DestroyBridge(ctx, "br-1"); err != nil {
				t.Fatal(err)
			}
			assertNothingLeft(t, client)
		})
	}
}

// startDiscardTCP listens on 127.0.0.1 and reads and drops whatever connects (an AudioSocket peer that says
// nothing back).
func startDiscardTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// assertNothingLeft checks with GET /channels and GET /bridges that nothing is left on the server.
func assertNothingLeft(t *testing.T, client *ari.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Teardown events may still be in flight; poll the server's own state until it settles or the deadline.
	for {
		chs, err := client.ListChannels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		brs, err := client.ListBridges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(chs) == 0 && len(brs) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("left on the server: %d channels %v, %d bridges %v", len(chs), names(chs), len(brs), brs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func names(chs []ari.Channel) []string {
	var s []string
	for _, c := range chs {
		s = append(s, c.Name)
	}
	return s
}

// TestDriverStasisOrder: calls set up on every transport whichever comes first, the ExternalMedia response or
// the media channel's StasisStart (Asterisk's usual order is the response first; the old driver bridged at once
// and failed with 422 "Channel not in Stasis application").
func TestDriverStasisOrder(t *testing.T) {
	for _, transport := range []string{driver.TransportRTP, driver.TransportAudioSocket, driver.TransportWebSocket} {
		for _, delay := range []time.Duration{-1, 30 * time.Millisecond} {
			name := fmt.Sprintf("%s/stasis-after-%v", transport, delay)
			if delay < 0 {
				name = transport + "/stasis-before-response"
			}
			t.Run(name, func(t *testing.T) {
				sim := aritest.Start(t, aritest.Config{StasisDelay: delay})
				e := startDriver(t, ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"},
					driver.Config{Transport: transport}, sim)
				for i := range 3 {
					c := dial(t, e, "echo")
					if c.Media() == nil {
						t.Fatalf("call %d: no media", i)
					}
					hangup(t, c)
				}
				assertNothingLeft(t, e.client)
			})
		}
	}
}

// TestDriverStasisTimeout: a media channel that never enters Stasis fails the call with ErrNoStasisStart within
// StasisTimeout, and the half-made call is torn down on the server.
func TestDriverStasisTimeout(t *testing.T) {
	for _, transport := range []string{driver.TransportRTP, driver.TransportAudioSocket} {
		t.Run(transport, func(t *testing.T) {
			sim := aritest.Start(t, aritest.Config{StasisDelay: time.Hour})
			e := startDriver(t, ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"},
				driver.Config{Transport: transport, StasisTimeout: 200 * time.Millisecond}, sim)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test", Timeout: 5 * time.Second})
			if !errors.Is(err, driver.ErrNoStasisStart) {
				t.Fatalf("Dial: %v, want ErrNoStasisStart", err)
			}
			var ce *call.Error
			if !errors.As(err, &ce) || ce.Outcome != call.Failed {
				t.Errorf("Dial error %#v, want a *call.Error with Outcome Failed", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Dial took %v to fail, StasisTimeout is 200ms", took)
			}
			assertNothingLeft(t, e.client)
			if n := e.driver.ActiveCalls(); n != 0 {
				t.Errorf("ActiveCalls %d after a failed set-up", n)
			}
		})
	}
}

// TestDriverMediaRequestStall: a POST /channels/externalMedia that Asterisk never answers (chan_websocket on
// 23.5.0-rc1 under concurrent set-ups) ends the Dial with ErrMediaRequestTimeout after StasisTimeout, not after
// the client's 10 s RequestTimeout, and leaves nothing on the server: the channel the stalled request made is
// hung up by the id the driver chose, the bridge removed, the callee hung up.
func TestDriverMediaRequestStall(t *testing.T) {
	for _, tc := range []struct{ transport, wire string }{
		{driver.TransportRTP, "udp"}, {driver.TransportAudioSocket, "tcp"}, {driver.TransportWebSocket, "websocket"},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			sim := aritest.Start(t, aritest.Config{StallExternalMedia: tc.wire})
			e := startDriver(t, ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"},
				driver.Config{Transport: tc.transport, StasisTimeout: 300 * time.Millisecond}, sim)
			before := serverState(t, e.client)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second) // under the 10 s RequestTimeout
			defer cancel()
			_, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test", Timeout: 5 * time.Second})
			var ce *call.Error
			if !errors.As(err, &ce) || ce.Outcome != call.Failed || !errors.Is(err, driver.ErrMediaRequestTimeout) {
				t.Fatalf("Dial: %v, want a Failed call.Error wrapping ErrMediaRequestTimeout", err)
			}
			if ctx.Err() != nil {
				t.Fatal("Dial ended with its context, not within StasisTimeout")
			}
			assertNoLeftovers(t, e.client, before)
		})
	}
}
