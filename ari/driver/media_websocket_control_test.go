package driver

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

func TestParseWSControl(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		event  string
		fields map[string]string
		err    bool
	}{
		{"media start", "MEDIA_START connection_id:7f3c channel:WebSocket/INCOMING/0x7f12 channel_id:1795470132.41 format:ulaw optimal_frame_size:160 ptime:20",
			"MEDIA_START", map[string]string{"connection_id": "7f3c", "channel": "WebSocket/INCOMING/0x7f12", "channel_id": "1795470132.41", "format": "ulaw", "optimal_frame_size": "160", "ptime": "20"}, false},
		{"older media start", "MEDIA_START connection_id:7f3c channel:WebSocket/INCOMING/0x7f12 format:slin16 optimal_frame_size:640",
			"MEDIA_START", map[string]string{"connection_id": "7f3c", "channel": "WebSocket/INCOMING/0x7f12", "format": "slin16", "optimal_frame_size": "640"}, false},
		{"dtmf", "DTMF_END digit:# channel_id:em-1\r\n", "DTMF_END", map[string]string{"digit": "#", "channel_id": "em-1"}, false},
		{"bare", "MEDIA_XOFF", "MEDIA_XOFF", map[string]string{}, false},
		{"mark with id", "MEDIA_MARK_PROCESSED turn 3: a:b", "MEDIA_MARK_PROCESSED", map[string]string{"correlation_id": "turn 3: a:b"}, false},
		{"mark without id", "MEDIA_MARK_PROCESSED", "MEDIA_MARK_PROCESSED", map[string]string{}, false},
		{"error text", "ERROR channel_id:em-1 error_text:FLUSH_MEDIA not supported in passthrough mode", "ERROR",
			map[string]string{"channel_id": "em-1", "error_text": "FLUSH_MEDIA not supported in passthrough mode"}, false},
		{"status", "STATUS channel_id:x queue_length:3 xon_level:800 xoff_level:900 queue_full:false bulk_media:false media_paused:false", "STATUS",
			map[string]string{"channel_id": "x", "queue_length": "3", "xon_level": "800", "xoff_level": "900", "queue_full": "false", "bulk_media": "false", "media_paused": "false"}, false},
		{"json", `{"event":"MEDIA_START","connection_id":"c1","channel":"WebSocket/INCOMING/0x1","format":"ulaw","optimal_frame_size":160,"ptime":20,"channel_variables":{"A":"B"}}`,
			"MEDIA_START", map[string]string{"connection_id": "c1", "channel": "WebSocket/INCOMING/0x1", "format": "ulaw", "optimal_frame_size": "160", "ptime": "20"}, false},
		{"json bool", `{"event":"STATUS","queue_full":true}`, "STATUS", map[string]string{"queue_full": "true"}, false},
		{"empty", "  ", "", nil, true},
		{"lower-case event", "media_start format:ulaw", "", nil, true},
		{"field without colon", "DTMF_END digit", "", nil, true},
		{"duplicate field", "DTMF_END digit:1 digit:2", "", nil, true},
		{"bad key", "DTMF_END di-git:1", "", nil, true},
		{"json without event", `{"format":"ulaw"}`, "", nil, true},
		{"broken json", `{"event":"MEDIA_START"`, "", nil, true},
		{"not utf-8", "MEDIA_START format:\xff", "", nil, true},
		{"too long", "MEDIA_START " + strings.Repeat("a:b ", 20000), "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseWSControl([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, ErrWebSocketControl) {
					t.Fatalf("got %+v, %v; want ErrWebSocketControl", c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Event != tc.event || !maps.Equal(c.Fields, tc.fields) {
				t.Fatalf("got %s %v, want %s %v", c.Event, c.Fields, tc.event, tc.fields)
			}
		})
	}
}

func TestParseMediaStart(t *testing.T) {
	parse := func(s string) (wsMediaStart, error) {
		c, err := parseWSControl([]byte(s))
		if err != nil {
			return wsMediaStart{}, err
		}
		return parseMediaStart(c)
	}
	ms, err := parse("MEDIA_START connection_id:c1 channel:WebSocket/INCOMING/0x1 channel_id:em-1 format:slin16 optimal_frame_size:640 ptime:20")
	if err != nil {
		t.Fatal(err)
	}
	if ms != (wsMediaStart{ConnectionID: "c1", Channel: "WebSocket/INCOMING/0x1", ChannelID: "em-1", Format: "slin16", OptimalFrameSize: 640, PTime: 20 * time.Millisecond}) {
		t.Fatalf("%+v", ms)
	}
	for _, bad := range []string{
		"DTMF_END digit:1",
		"MEDIA_START optimal_frame_size:160",
		"MEDIA_START format:ulaw",
		"MEDIA_START format:ulaw optimal_frame_size:0",
		"MEDIA_START format:ulaw optimal_frame_size:99999",
		"MEDIA_START format:ulaw optimal_frame_size:160 ptime:-20",
		"MEDIA_START format:ulaw optimal_frame_size:160 ptime:x",
	} {
		if _, err := parse(bad); !errors.Is(err, ErrWebSocketControl) {
			t.Errorf("%q: %v, want ErrWebSocketControl", bad, err)
		}
	}
}

func FuzzParseWSControl(f *testing.F) {
	for _, s := range []string{
		"MEDIA_START connection_id:c channel:WebSocket/INCOMING/0x1 channel_id:e format:ulaw optimal_frame_size:160 ptime:20",
		"DTMF_END digit:1 channel_id:e", "MEDIA_MARK_PROCESSED x y", "ERROR channel_id:e error_text:a b c",
		`{"event":"MEDIA_XON","channel_id":"e"}`, "", "{", "A b:", "STATUS a:1 a:2",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseWSControl(b)
		if err != nil {
			if !errors.Is(err, ErrWebSocketControl) {
				t.Fatalf("error %v does not wrap ErrWebSocketControl", err)
			}
			return
		}
		if !wsName(c.Event, true) || c.Fields == nil {
			t.Fatalf("accepted %q as %+v", b, c)
		}
		if c.Event == "MEDIA_START" {
			if ms, err := parseMediaStart(c); err == nil && (ms.OptimalFrameSize <= 0 || ms.Format == "" || ms.PTime <= 0) {
				t.Fatalf("MEDIA_START %q accepted as %+v", b, ms)
			}
		}
	})
}

func TestDTMFDedup(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	digits := func(ks []dtmfMark) string {
		var s []rune
		for _, k := range ks {
			s = append(s, k.digit)
		}
		return string(s)
	}
	t.Run("ARI first covers DTMF_END", func(t *testing.T) {
		d := dtmfDedup{window: time.Second}
		d.fromARI('1', ms(0))
		d.fromWS('1', ms(30))
		if emit, wait := d.due(ms(5000)); len(emit) != 0 || wait != 0 {
			t.Fatalf("emitted %q, wait %v", digits(emit), wait)
		}
	})
	t.Run("ARI after DTMF_END covers it", func(t *testing.T) {
		d := dtmfDedup{window: time.Second}
		d.fromWS('2', ms(0))
		if emit, wait := d.due(ms(100)); len(emit) != 0 || wait != 900*time.Millisecond {
			t.Fatalf("emitted %q, wait %v", digits(emit), wait)
		}
		d.fromARI('2', ms(200))
		if emit, _ := d.due(ms(5000)); len(emit) != 0 {
			t.Fatalf("emitted %q", digits(emit))
		}
	})
	t.Run("DTMF_END alone is reported after the window", func(t *testing.T) {
		d := dtmfDedup{window: time.Second}
		d.fromWS('3', ms(0))
		d.fromWS('4', ms(500))
		d.fromARI('9', ms(600)) // another digit does not cover them
		emit, wait := d.due(ms(1000))
		if digits(emit) != "3" || wait != 500*time.Millisecond {
			t.Fatalf("emitted %q, wait %v", digits(emit), wait)
		}
		if emit, _ := d.due(ms(1500)); digits(emit) != "4" {
			t.Fatalf("emitted %q", digits(emit))
		}
	})
	t.Run("stale ARI digit does not cover a later key press", func(t *testing.T) {
		d := dtmfDedup{window: time.Second}
		d.fromARI('5', ms(0))
		d.fromWS('5', ms(3000))
		if emit, _ := d.due(ms(4000)); digits(emit) != "5" {
			t.Fatalf("emitted %q", digits(emit))
		}
	})
	t.Run("repeated digit pairs one to one", func(t *testing.T) {
		d := dtmfDedup{window: time.Second}
		d.fromARI('7', ms(0))
		d.fromWS('7', ms(10))
		d.fromWS('7', ms(300)) // a second press whose ARI event was lost
		if emit, _ := d.due(ms(2000)); digits(emit) != "7" {
			t.Fatalf("emitted %q", digits(emit))
		}
	})
}

func BenchmarkParseWSControl(b *testing.B) {
	line := []byte("MEDIA_START connection_id:7f3c0d2e-1b2a-4c3d-9e8f-0a1b2c3d4e5f channel:WebSocket/INCOMING/0x7f12 channel_id:1795470132.41 format:ulaw optimal_frame_size:160 ptime:20")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseWSControl(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMediaWebSocketReceive measures one 20 ms ulaw message from decode to the jitter buffer.
func BenchmarkMediaWebSocketReceive(b *testing.B) {
	m := &mediaWebSocket{format: audio.Narrowband, sampleSize: 1, rx: audio.NewReceiver(audio.ReceiverConfig{Format: audio.Narrowband})}
	payload := make([]byte, 160)
	now := time.Unix(0, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		now = now.Add(audio.FrameDuration)
		m.onAudio(payload, now)
	}
}
