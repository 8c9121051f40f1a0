package esl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
)

// TestSegmentWAV checks the WAV a broadcast segment is served as: a 44-byte RIFF header for L16 mono at the
// call's rate, then the samples, and the segment's URL and length.
func TestSegmentWAV(t *testing.T) {
	cases := []struct {
		name    string
		rate    int
		samples int
		dur     time.Duration
	}{
		{"one 8k frame", 8000, 160, 20 * time.Millisecond},
		{"first 16k segment", 16000, 4800, 300 * time.Millisecond},
		{"full 8k segment", 8000, 8000, time.Second},
		{"full 16k segment", 16000, 16000, time.Second},
		{"odd length", 16000, 321, 20062500 * time.Nanosecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := make([]int16, tc.samples)
			for i := range in {
				in[i] = int16(i*37 - 20000)
			}
			sg, err := newSegment("http://10.0.0.5:8080/play/call-1/TOKEN/", 7, tc.rate, in)
			if err != nil {
				t.Fatal(err)
			}
			if sg.url != "http://10.0.0.5:8080/play/call-1/TOKEN/7.wav" || sg.seq != 7 || sg.dur != tc.dur {
				t.Errorf("segment %q seq %d dur %v", sg.url, sg.seq, sg.dur)
			}
			b := sg.wav
			data := 2 * tc.samples
			if len(b) != 44+data {
				t.Fatalf("%d bytes, want %d", len(b), 44+data)
			}
			le16 := func(off int) int { return int(binary.LittleEndian.Uint16(b[off:])) }
			le32 := func(off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }
			for _, f := range []struct {
				what      string
				got, want any
			}{
				{"RIFF", string(b[0:4]), "RIFF"},
				{"RIFF size", le32(4), 36 + data},
				{"WAVE", string(b[8:12]), "WAVE"},
				{"fmt id", string(b[12:16]), "fmt "},
				{"fmt size", le32(16), 16},
				{"format tag (PCM)", le16(20), 1},
				{"channels", le16(22), 1},
				{"rate", le32(24), tc.rate},
				{"byte rate", le32(28), 2 * tc.rate},
				{"block align", le16(32), 2},
				{"bits", le16(34), 16},
				{"data id", string(b[36:40]), "data"},
				{"data size", le32(40), data},
			} {
				if f.got != f.want {
					t.Errorf("%s: %v, want %v", f.what, f.got, f.want)
				}
			}
			for i, v := range in {
				if got := int16(binary.LittleEndian.Uint16(b[44+2*i:])); got != v {
					t.Fatalf("sample %d: %d, want %d", i, got, v)
				}
			}
		})
	}
}

func TestPlaybackConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg DriverConfig
		ok  bool
	}{
		{DriverConfig{}, true},
		{DriverConfig{Media: MediaBroadcast, PlaybackURL: "http://fs-media.local:8080/tts/"}, true},
		{DriverConfig{Media: MediaBroadcast, PlaybackURL: "https://10.0.0.5"}, true},
		{DriverConfig{Media: 7}, false},
		{DriverConfig{Media: MediaBroadcast, PlaybackURL: "ws://10.0.0.5:8080"}, false},
		{DriverConfig{Media: MediaBroadcast, PlaybackURL: "http://"}, false},
		{DriverConfig{Media: MediaBroadcast, PlaybackURL: "http://h/a b"}, false},
		{DriverConfig{Media: MediaBroadcast, PlaybackURL: "http://h/?x=1"}, false},
	} {
		cfg := tc.cfg
		err := cfg.fillPlayback()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
		if err == nil && (cfg.FirstSegment != 300*time.Millisecond || cfg.Segment != time.Second) {
			t.Errorf("defaults: first %v, segment %v", cfg.FirstSegment, cfg.Segment)
		}
	}
}

// fakeAPI records the commands a broadcast sends and fails those starting with failing.
type fakeAPI struct {
	mu      sync.Mutex
	cmds    []string
	failing string
}

func (f *fakeAPI) api(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	if f.failing != "" && strings.HasPrefix(cmd, f.failing) {
		return "", &Error{Command: "api", Reply: "No such channel!"}
	}
	return "+OK\n", nil
}

func (f *fakeAPI) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

// newTestBroadcast returns a call's media in MediaBroadcast mode whose commands go to api, with no FreeSWITCH
// and no events: playback is estimated from the broadcasts' timing alone.
func newTestBroadcast(t *testing.T, api *fakeAPI) *media {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &Driver{ctx: ctx, log: zerolog.Nop(), cfg: DriverConfig{Media: MediaBroadcast, PlaybackURL: "http://h:1"}}
	if err := d.cfg.fillPlayback(); err != nil {
		t.Fatal(err)
	}
	m := &media{d: d, id: "c1", format: audio.Wideband, mode: MediaBroadcast, closed: make(chan struct{}),
		rx: audio.NewReceiver(audio.ReceiverConfig{Format: audio.Wideband})}
	m.bc = newBroadcast(m)
	m.bc.setAPI(api.api)
	d.wg.Add(1)
	go m.bc.run()
	t.Cleanup(func() { m.close(); cancel(); d.wg.Wait() })
	return m
}

func writeFrames(ctx context.Context, m *media, n int) error {
	for range n {
		if err := m.Write(ctx, audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); err != nil {
			return err
		}
	}
	return nil
}

// TestBroadcastEstimates: without PLAYBACK events, segments are cut at 300 ms, 1 s and at the pause, Write keeps
// within a segment + 200 ms of the estimated playback, and Flush breaks and reports the time since playback began.
func TestBroadcastEstimates(t *testing.T) {
	api := &fakeAPI{}
	m := newTestBroadcast(t, api)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := writeFrames(ctx, m, 75); err != nil { // 1.5 s: 300 ms + 1 s + 200 ms at the pause
		t.Fatal(err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 450*time.Millisecond {
		t.Errorf("1.5 s written in %v, want about 300 ms (1.2 s ahead of playback)", el)
	}
	time.Sleep(100 * time.Millisecond) // the subject: a pause in the writes cuts the segment
	want := []string{"uuid_broadcast c1 playback::http://h:1/play/c1/" + m.bc.token + "/1.wav aleg",
		"uuid_broadcast c1 playback::http://h:1/play/c1/" + m.bc.token + "/2.wav aleg",
		"uuid_broadcast c1 playback::http://h:1/play/c1/" + m.bc.token + "/3.wav aleg"}
	if got := api.commands(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m.bc.mu.Lock()
	var durs []time.Duration
	for _, sg := range m.bc.queue {
		durs = append(durs, sg.dur)
	}
	m.bc.mu.Unlock()
	if fmt.Sprint(durs) != "[300ms 1s 200ms]" {
		t.Errorf("segments %v", durs)
	}
	time.Sleep(400 * time.Millisecond) // the subject: Flush estimates from the time since playback began
	played := m.Flush()
	if truth := time.Since(start); played < truth-50*time.Millisecond || played > truth+20*time.Millisecond {
		t.Errorf("Flush: %v played after %v", played, truth)
	}
	if got := api.commands(); got[len(got)-1] != "uuid_break c1 all" {
		t.Errorf("last command %q", got[len(got)-1])
	}
	if played := m.Flush(); played != 0 || len(api.commands()) != 4 {
		t.Errorf("second Flush: %v played, commands %q", played, api.commands())
	}
}

// TestBroadcastErrorsReturned: a failed uuid_broadcast fails the Write that published it; a failed uuid_break
// (Flush cannot return it) fails the next Write.
func TestBroadcastErrorsReturned(t *testing.T) {
	api := &fakeAPI{failing: "uuid_broadcast"}
	m := newTestBroadcast(t, api)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var e *Error
	if err := writeFrames(ctx, m, 15); !errors.As(err, &e) || !strings.Contains(err.Error(), "uuid_broadcast") {
		t.Fatalf("Write: %v, want the uuid_broadcast -ERR", err)
	}
	// A pause cut fails in the background: the next Write returns it.
	if err := writeFrames(ctx, m, 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the subject: a pause in the writes cuts the segment
	if err := writeFrames(ctx, m, 1); !errors.As(err, &e) {
		t.Fatalf("Write after a failed pause cut: %v", err)
	}
	api.mu.Lock()
	api.failing = "uuid_break"
	api.mu.Unlock()
	if err := writeFrames(ctx, m, 15); err != nil {
		t.Fatal(err)
	}
	m.Flush()
	if err := writeFrames(ctx, m, 1); !errors.As(err, &e) || !strings.Contains(err.Error(), "uuid_break") {
		t.Fatalf("Write after a failed Flush: %v", err)
	}
	if err := writeFrames(ctx, m, 1); err != nil {
		t.Fatalf("the error is returned once: %v", err)
	}
}

// TestBroadcastLongFrame: a frame longer than a segment + 200 ms is accepted when nothing is ahead of it.
func TestBroadcastLongFrame(t *testing.T) {
	api := &fakeAPI{}
	m := newTestBroadcast(t, api)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Write(ctx, audio.Frame{Rate: 16000, Samples: make([]int16, 16000*2)}); err != nil {
		t.Fatal(err)
	}
	if got := api.commands(); len(got) != 1 || !strings.HasSuffix(got[0], "/1.wav aleg") {
		t.Errorf("commands %q", got)
	}
}
