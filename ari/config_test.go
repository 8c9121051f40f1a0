package ari

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr error
		errHas  string
		want    Config
	}{
		{name: "unset", env: map[string]string{}, wantErr: ErrNotConfigured},
		{
			name: "complete",
			env:  map[string]string{"ARI_URL": "http://127.0.0.1:8088", "ARI_USERNAME": "u", "ARI_PASSWORD": "p", "ARI_APP": "outcall"},
			want: Config{URL: "http://127.0.0.1:8088", Username: "u", Password: "p", App: "outcall"},
		},
		{name: "no app", env: map[string]string{"ARI_URL": "http://h:8088"}, wantErr: ErrIncompleteConfig, errHas: "ARI_APP"},
		{name: "no url", env: map[string]string{"ARI_APP": "a", "ARI_USERNAME": "u", "ARI_PASSWORD": "p"}, wantErr: ErrIncompleteConfig, errHas: "ARI_URL"},
		{name: "user without password", env: map[string]string{"ARI_URL": "http://h", "ARI_APP": "a", "ARI_USERNAME": "u"}, wantErr: ErrIncompleteConfig, errHas: "ARI_PASSWORD"},
		{name: "bad scheme", env: map[string]string{"ARI_URL": "ftp://h", "ARI_APP": "a"}, wantErr: ErrIncompleteConfig, errHas: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"ARI_URL", "ARI_USERNAME", "ARI_PASSWORD", "ARI_APP"} {
				t.Setenv(k, tt.env[k])
			}
			got, err := ConfigFromEnv()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != tt.want.URL || got.App != tt.want.App || got.Username != tt.want.Username || got.Password != tt.want.Password {
				t.Fatalf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewDefaultsAndURL(t *testing.T) {
	tests := []struct{ url, base, events string }{
		{"http://127.0.0.1:8088", "http://127.0.0.1:8088/ari", "ws://127.0.0.1:8088/ari/events?app=my+app"},
		{"http://127.0.0.1:8088/ari/", "http://127.0.0.1:8088/ari", "ws://127.0.0.1:8088/ari/events?app=my+app"},
		{"https://pbx.example:8089/asterisk", "https://pbx.example:8089/asterisk/ari", "wss://pbx.example:8089/asterisk/ari/events?app=my+app"},
	}
	for _, tt := range tests {
		c, err := New(Config{URL: tt.url, App: "my app"})
		if err != nil {
			t.Fatal(err)
		}
		if c.base.String() != tt.base || c.eventsURL() != tt.events {
			t.Errorf("%s: base %s events %s", tt.url, c.base, c.eventsURL())
		}
		if c.cfg.RequestTimeout != DefaultRequestTimeout || c.cfg.EventBuffer != DefaultEventBuffer ||
			c.cfg.ReconnectMin != DefaultReconnectMin || c.cfg.ReconnectMax != DefaultReconnectMax || c.cfg.PingInterval != DefaultPingInterval {
			t.Errorf("defaults not applied: %+v", c.cfg)
		}
	}
	c, err := New(Config{URL: "http://bot:s3cret@127.0.0.1:8088", App: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Username != "bot" || c.cfg.Password != "s3cret" || strings.Contains(c.base.String(), "s3cret") {
		t.Errorf("user info: %q %q base %s", c.cfg.Username, c.cfg.Password, c.base)
	}
	if _, err := New(Config{URL: "http://h"}); !errors.Is(err, ErrIncompleteConfig) {
		t.Errorf("missing app: err = %v", err)
	}
	if _, err := New(Config{App: "a"}); !errors.Is(err, ErrIncompleteConfig) {
		t.Errorf("missing url: err = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	c, err := New(Config{URL: "http://h", App: "a", ReconnectMin: 100 * time.Millisecond, ReconnectMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for n, ceil := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		ceil *= time.Millisecond
		for range 50 {
			d := c.backoff(n)
			if d < ceil/2 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, ceil/2, ceil)
			}
		}
	}
	if d := c.backoff(1000); d > time.Second {
		t.Fatalf("backoff(1000) = %v overflows the cap", d)
	}
}

// FuzzTime checks the fast timestamp parser against time.Parse.
func FuzzTime(f *testing.F) {
	for _, s := range []string{"2026-11-23T21:42:12.844+0000", "2024-02-29T00:00:00.000-1200", "2026-02-30T00:00:00.000+0000", "9999-12-31T23:59:59.999+2359"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseAsteriskTime([]byte(s))
		slow, err := time.Parse(TimeLayout, s)
		if ok && (err != nil || !fast.Equal(slow)) {
			t.Fatalf("%q: fast %v, time.Parse %v %v", s, fast, slow, err)
		}
	})
}

func TestTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{`"2026-11-23T21:42:12.844+0000"`, time.Date(2026, 11, 23, 21, 42, 12, 844e6, time.UTC), false},
		{`"2026-11-23T21:42:12.844+0800"`, time.Date(2026, 11, 23, 13, 42, 12, 844e6, time.UTC), false},
		{`"2026-11-23T21:42:12.844Z"`, time.Date(2026, 11, 23, 21, 42, 12, 844e6, time.UTC), false},
		{`""`, time.Time{}, false},
		{`null`, time.Time{}, false},
		{`"2026-11-23T21:42:12.844-0130"`, time.Date(2026, 11, 23, 23, 12, 12, 844e6, time.UTC), false},
		{`"2026-02-29T21:42:12.844+0000"`, time.Time{}, true},
		{`"2026-13-23T21:42:12.844+0000"`, time.Time{}, true},
		{`"2026-11-23T21:42:12.8x4+0000"`, time.Time{}, true},
		{`"yesterday"`, time.Time{}, true},
		{`12`, time.Time{}, true},
	}
	for _, tt := range tests {
		var v Time
		err := v.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v", tt.in, err)
			continue
		}
		if !tt.err && !v.Equal(tt.want) {
			t.Errorf("%s = %v, want %v", tt.in, v.Time, tt.want)
		}
	}
	b, _ := Time{time.Date(2026, 11, 23, 21, 42, 12, 844e6, time.UTC)}.MarshalJSON()
	if string(b) != `"2026-11-23T21:42:12.844+0000"` {
		t.Errorf("marshal = %s", b)
	}
}
