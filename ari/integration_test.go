package ari_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
)

// realAsterisk returns a started client for the real Asterisk named by OUTCALL_ARI_URL / OUTCALL_ARI_USERNAME /
// OUTCALL_ARI_PASSWORD (app OUTCALL_ARI_APP, default "outcall-test"), or skips.
func realAsterisk(t *testing.T, hooks ari.Hooks) *ari.Client {
	t.Helper()
	url, user, pass := os.Getenv("OUTCALL_ARI_URL"), os.Getenv("OUTCALL_ARI_USERNAME"), os.Getenv("OUTCALL_ARI_PASSWORD")
	if url == "" || user == "" || pass == "" {
		t.Skip("real-Asterisk test: set OUTCALL_ARI_URL, OUTCALL_ARI_USERNAME and OUTCALL_ARI_PASSWORD to run it")
	}
	return startClient(t, ari.Config{URL: url, Username: user, Password: pass, App: testApp(), Hooks: hooks})
}

// simulator returns a started client for an in-process aritest simulator.
func simulator(t *testing.T, hooks ari.Hooks) (*ari.Client, *aritest.Server) {
	t.Helper()
	s := aritest.Start(t, aritest.Config{})
	return startClient(t, ari.Config{URL: s.URL(), Username: s.Username(), Password: s.Password(), App: "outcall-test",
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, Hooks: hooks}), s
}

func startClient(t *testing.T, cfg ari.Config) *ari.Client {
	t.Helper()
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}

// checkOriginate originates to the test dialplan's extensions and checks the outcome the events tell
// (pbx-protocols §1b: the outcome is read from Dial.dialstatus; StasisStart only when answered).
func checkOriginate(t *testing.T, c *ari.Client) {
	tests := []struct {
		exten      string
		dialstatus string
		answered   bool
	}{
		{"hangup", "ANSWER", true},
		{"busy", "BUSY", false},
		{"congestion", "CONGESTION", false},
	}
	for _, tt := range tests {
		t.Run(tt.exten, func(t *testing.T) {
			id, other := ari.NewID("ch"), ari.NewID("ch")
			sub := c.Subscribe(id, other)
			defer sub.Close()
			if _, err := c.Originate(t.Context(), ari.OriginateParams{Endpoint: "Local/" + tt.exten + "@outcall-test",
				ChannelID: id, OtherChannelID: other, Timeout: 10 * time.Second}); err != nil {
				t.Fatal(err)
			}
			var status string
			started := false
			timeout := time.After(20 * time.Second)
			for {
				select {
				case ev := <-sub.Events():
					switch e := ev.(type) {
					case *ari.Dial:
						if e.Dialstatus != "" {
							status = e.Dialstatus
						}
					case *ari.StasisStart:
						started = true
						if e.Channel.ID != id || e.Channel.State != "Up" {
							t.Errorf("StasisStart for %s state %s", e.Channel.ID, e.Channel.State)
						}
					case *ari.ChannelDestroyed:
						if e.Channel.ID != id {
							continue
						}
						if status != tt.dialstatus || started != tt.answered {
							t.Fatalf("dialstatus %q answered %v, want %q %v", status, started, tt.dialstatus, tt.answered)
						}
						return
					}
				case <-timeout:
					t.Fatalf("no ChannelDestroyed (dialstatus %q)", status)
				}
			}
		})
	}
}

func checkErrors(t *testing.T, c *ari.Client) {
	if _, err := c.GetChannel(t.Context(), "no-such-channel"); !errors.Is(err, ari.ErrNotFound) {
		t.Errorf("GetChannel: %v, want ErrNotFound", err)
	}
	if err := c.Answer(t.Context(), "no-such-channel"); !errors.Is(err, ari.ErrNotFound) {
		t.Errorf("Answer: %v, want ErrNotFound", err)
	}
	if _, err := c.ListChannels(t.Context()); err != nil {
		t.Errorf("ListChannels: %v", err)
	}
	if _, err := c.Originate(t.Context(), ari.OriginateParams{}); !errors.Is(err, ari.ErrBadRequest) {
		t.Errorf("Originate without endpoint: %v, want ErrBadRequest", err)
	}
}

func TestIntegrationOriginate(t *testing.T) { checkOriginate(t, realAsterisk(t, ari.Hooks{})) }

func TestIntegrationErrors(t *testing.T) { checkErrors(t, realAsterisk(t, ari.Hooks{})) }

func TestSimulatorOriginate(t *testing.T) {
	c, _ := simulator(t, ari.Hooks{})
	checkOriginate(t, c)
}

func TestSimulatorErrors(t *testing.T) {
	c, _ := simulator(t, ari.Hooks{})
	checkErrors(t, c)
}

// TestSimulatorReconnect: the simulator drops the events socket mid-call; the client redials, lists the live
// channels (the call is among them) and keeps delivering the call's events to the same subscription.
func TestSimulatorReconnect(t *testing.T) {
	recon := make(chan []ari.Channel, 1)
	hooked := make(chan int, 2)
	c, sim := simulator(t, ari.Hooks{OnReconnected: func(live []ari.Channel) { recon <- live }})
	c.OnReconnected(func(live []ari.Channel) { hooked <- len(live) })
	removed := c.OnReconnected(func([]ari.Channel) { t.Error("removed hook called") })
	removed()
	id := ari.NewID("ch")
	sub := c.Subscribe(id)
	defer sub.Close()
	if _, err := c.Originate(t.Context(), ari.OriginateParams{Endpoint: "Local/echo@outcall-test", ChannelID: id}); err != nil {
		t.Fatal(err)
	}
	waitFor[*ari.StasisStart](t, sub)
	sim.DropEvents()
	select {
	case live := <-recon:
		found := false
		for _, ch := range live {
			found = found || ch.ID == id
		}
		if !found {
			t.Fatalf("live channels after reconnect lack the call: %+v", live)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect")
	}
	if n := <-hooked; n == 0 {
		t.Fatal("OnReconnected listener got no live channels")
	}
	if err := c.Hangup(t.Context(), id, ari.ReasonNormal); err != nil {
		t.Fatal(err)
	}
	waitFor[*ari.ChannelDestroyed](t, sub)
	if st := c.Stats(); st.Reconnects != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func waitFor[E ari.Event](t *testing.T, sub *ari.Subscription) E {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatal("subscription closed")
			}
			if e, ok := ev.(E); ok {
				return e
			}
		case <-timeout:
			var zero E
			t.Fatalf("no %T", zero)
		}
	}
}

// testApp is the Stasis application every integration test uses: OUTCALL_ARI_APP, default "outcall-test" (the
// driver's tests in ari/driver read the same variable).
func testApp() string {
	if app := os.Getenv("OUTCALL_ARI_APP"); app != "" {
		return app
	}
	return "outcall-test"
}
