package esl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// newBroadcastDriver starts a fake FreeSWITCH whose audio-stream module has no bidirectional mode, and a driver
// in MediaBroadcast mode on it, with a silent callee on number 1001.
func newBroadcastDriver(t *testing.T, cfg esl.DriverConfig) (*esltest.Server, *esl.Driver) {
	t.Helper()
	fs, err := esltest.New(esltest.Config{NoBidirectional: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	fs.AddCallee("1001", callee.Script{Name: "silent"})
	client, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: fs.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	cfg.Media = esl.MediaBroadcast
	d, err := esl.NewDriver(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return fs, d
}

// waitFor polls cond every 5 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// settled reports whether every broadcast of call id has finished playing (or failed, or was broken).
func settled(fs *esltest.Server, id string) bool {
	rec, _ := fs.Call(id)
	if len(rec.Playbacks) == 0 || len(rec.Playbacks) != len(rec.Broadcasts) {
		return false
	}
	for _, p := range rec.Playbacks {
		if p.Status == "" {
			return false
		}
	}
	return true
}

// frameTone classifies each 20 ms frame of a recording: -1 when silent, else the index in freqs of the loudest
// tone.
func frameTone(f audio.Frame, freqs []float64) []int {
	n := f.Rate / 50
	var out []int
	for off := 0; off+n <= len(f.Samples); off += n {
		fr := f.Samples[off : off+n]
		var sum int64
		for _, v := range fr {
			sum += int64(max(v, -v))
		}
		if sum/int64(n) < 500 {
			out = append(out, -1)
			continue
		}
		best, bestP := -1, 0.0
		for i, fq := range freqs {
			g := audio.NewGoertzel(fq, f.Rate)
			g.Add(fr)
			if p := g.Power(); p > bestP {
				best, bestP = i, p
			}
		}
		out = append(out, best)
	}
	return out
}

// TestBroadcastPrompt: a prompt of five 300 ms tones, written as fast as Write lets it, reaches the callee through
// uuid_broadcast of HTTP-served segments: every tone, in order, with no gap, for 1.5 s ±60 ms, the first segment
// short; the writer never ran more than a segment + 200 ms ahead; nothing went over the WebSocket.
func TestBroadcastPrompt(t *testing.T) {
	for _, f := range []audio.Format{audio.Wideband, audio.Narrowband} {
		t.Run(fmt.Sprint(f.Rate), func(t *testing.T) {
			checkLeaks(t)
			fs, d := newBroadcastDriver(t, esl.DriverConfig{Format: f})
			ctx := testCtx(t, 10*time.Second)
			c, err := d.Dial(ctx, call.Request{Endpoint: "sofia/gateway/gw/1001"})
			if err != nil {
				t.Fatal(err)
			}
			m := c.Media()
			freqs := []float64{500, 800, 1100, 1400, 1700}
			var ph float64
			var written, maxAhead time.Duration
			var t0 time.Time
			for _, fq := range freqs {
				for range 15 {
					if err := m.Write(ctx, audio.Frame{Rate: f.Rate, Samples: tone(f.Rate, fq, f.FrameSamples(), &ph)}); err != nil {
						t.Fatal(err)
					}
					if t0.IsZero() {
						t0 = time.Now()
					}
					written += audio.FrameDuration
					maxAhead = max(maxAhead, written-time.Since(t0))
				}
			}
			t.Logf("writer ran up to %v ahead", maxAhead)
			if maxAhead > 1250*time.Millisecond || maxAhead < 900*time.Millisecond {
				t.Errorf("the writer ran up to %v ahead of playback, want about 1.2 s (segment + 200 ms)", maxAhead)
			}
			waitFor(ctx, t, "the broadcasts to play", func() bool { return settled(fs, c.ID()) })
			st := m.(interface{ Stats() esl.MediaStats }).Stats()
			if err := c.Hangup(ctx, call.CauseNormal); err != nil {
				t.Fatal(err)
			}
			rec, err := fs.WaitEnded(ctx, c.ID())
			if err != nil {
				t.Fatal(err)
			}

			var total time.Duration
			for i, p := range rec.Playbacks {
				if p.Status != "done" {
					t.Errorf("playback %d: %+v", i, p)
				}
				total += p.Played
				if want := "playback::" + p.Path + " aleg"; rec.Broadcasts[i] != want {
					t.Errorf("broadcast %d: %q, want %q", i, rec.Broadcasts[i], want)
				}
				if !strings.HasPrefix(p.Path, "http://"+d.MediaAddr()+"/play/"+c.ID()+"/") ||
					!strings.HasSuffix(p.Path, fmt.Sprintf("/%d.wav", i+1)) {
					t.Errorf("playback %d path %q", i, p.Path)
				}
			}
			if len(rec.Playbacks) < 2 || rec.Playbacks[0].Played != 300*time.Millisecond || total != 1500*time.Millisecond {
				t.Errorf("playbacks %+v: want a 300 ms first segment and 1.5 s in all", rec.Playbacks)
			}
			if st.Broadcasts != uint64(len(rec.Broadcasts)) || st.Fetches < st.Broadcasts || st.Breaks != 0 || st.OutDropped != 0 {
				t.Errorf("media stats %+v for %d broadcasts", st, len(rec.Broadcasts))
			}
			if rec.IgnoredFrames != 0 || rec.Breaks != 0 {
				t.Errorf("%d frames sent on the WebSocket, %d breaks", rec.IgnoredFrames, rec.Breaks)
			}

			heard := frameTone(rec.Person.BotAudio(), freqs)
			first, last, voiced := -1, -1, 0
			prev := 0
			for i, k := range heard {
				if k < 0 {
					continue
				}
				if first < 0 {
					first = i
				}
				last, voiced = i, voiced+1
				if k < prev {
					t.Fatalf("frame %d: tone %d after tone %d: out of order", i, k, prev)
				}
				prev = k
			}
			span := time.Duration(last-first+1) * audio.FrameDuration
			if first < 0 || prev != len(freqs)-1 || span < 1440*time.Millisecond || span > 1560*time.Millisecond ||
				time.Duration(voiced)*audio.FrameDuration < 1440*time.Millisecond {
				t.Fatalf("callee heard %d voiced frames over %v, last tone %d: want 1.5 s of 5 tones", voiced, span, prev)
			}
		})
	}
}

// TestBroadcastBargeIn flushes mid-prompt: Flush sends uuid_break <uuid> all, the callee hears at most 40 ms of
// bot audio after it, Flush's played figure is within 100 ms of what the callee heard, and the next prompt plays.
func TestBroadcastBargeIn(t *testing.T) {
	checkLeaks(t)
	fs, d := newBroadcastDriver(t, esl.DriverConfig{})
	ctx := testCtx(t, 10*time.Second)
	c, err := d.Dial(ctx, call.Request{Endpoint: "sofia/gateway/gw/1001"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(ctx, call.CauseNormal)
	m := c.Media()
	rec, _ := fs.Call(c.ID())
	p := rec.Person
	wctx, stop := context.WithCancel(ctx)
	wdone := make(chan error, 1)
	go func() {
		var ph float64
		for range 150 { // 3 s
			if err := m.Write(wctx, audio.Frame{Rate: 16000, Samples: tone(16000, 1000, 320, &ph)}); err != nil {
				wdone <- err
				return
			}
		}
		wdone <- nil
	}()
	waitFor(ctx, t, "1.2 s of the prompt to play", func() bool { return p.BotFrames() >= 60 })
	stop()
	if err := <-wdone; !errors.Is(err, context.Canceled) {
		t.Fatalf("writer: %v, want it stopped mid-prompt", err)
	}
	played := m.Flush()
	atBreak := p.BotFrames()
	time.Sleep(300 * time.Millisecond) // the subject: 300 ms in which the callee may hear at most 2 frames more
	after := p.BotFrames()
	if after-atBreak > 2 {
		t.Errorf("callee heard %d bot frames after the break", after-atBreak)
	}
	truth := time.Duration(after) * audio.FrameDuration
	t.Logf("Flush: %v played; the callee heard %v, %d frames after the break", played, truth, after-atBreak)
	if diff := played - truth; diff > 100*time.Millisecond || diff < -100*time.Millisecond {
		t.Errorf("Flush says %v played, the callee heard %v", played, truth)
	}
	rec, _ = fs.Call(c.ID())
	if rec.Breaks != 1 || rec.BreaksAll != 1 {
		t.Errorf("breaks %d (all: %d), want one uuid_break ... all", rec.Breaks, rec.BreaksAll)
	}
	var statuses []string
	for _, pb := range rec.Playbacks {
		statuses = append(statuses, pb.Status)
	}
	got := strings.Join(statuses, " ")
	if !strings.HasPrefix(got, "done ") || !strings.Contains(got, "break") || strings.Contains(got, "error") {
		t.Errorf("playback statuses %q", got)
	}
	if st := m.(interface{ Stats() esl.MediaStats }).Stats(); st.Breaks != 1 {
		t.Errorf("stats %+v", st)
	}

	// The next prompt plays from its start, as a short first segment.
	before := len(rec.Broadcasts)
	var ph float64
	for range 10 {
		if err := m.Write(ctx, audio.Frame{Rate: 16000, Samples: tone(16000, 1000, 320, &ph)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(ctx, t, "the next prompt to play", func() bool {
		r, _ := fs.Call(c.ID())
		return len(r.Broadcasts) > before && settled(fs, c.ID())
	})
	if n := p.BotFrames() - after; n != 10 {
		t.Errorf("callee heard %d frames of a 10-frame prompt after the barge-in", n)
	}
	time.Sleep(100 * time.Millisecond) // the last frame's 20 ms, and PLAYBACK_STOP's way to the driver
	if played := m.Flush(); played != 200*time.Millisecond {
		t.Errorf("Flush after a whole 200 ms prompt says %v", played)
	}
	if rec, _ := fs.Call(c.ID()); rec.Breaks != 1 {
		t.Errorf("Flush with nothing playing sent uuid_break (%d breaks)", rec.Breaks)
	}
}

// TestBroadcastServing: a segment is served (a WAV of what was written) while queued, and is gone once played;
// wrong tokens, another call's id, unknown segments and other paths are 404.
func TestBroadcastServing(t *testing.T) {
	checkLeaks(t)
	fs, d := newBroadcastDriver(t, esl.DriverConfig{Format: audio.Narrowband})
	ctx := testCtx(t, 10*time.Second)
	c, err := d.Dial(ctx, call.Request{Endpoint: "sofia/gateway/gw/1001"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(ctx, call.CauseNormal)
	other, err := d.Dial(ctx, call.Request{Endpoint: "sofia/gateway/gw/1001"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Hangup(ctx, call.CauseNormal)
	m := c.Media()
	var ph float64
	var last []int16
	for i := range 75 { // 1.5 s: segments of 300 ms, 1 s, 200 ms (cut at the pause)
		s := tone(8000, 700, 160, &ph)
		if i >= 65 {
			last = append(last, s...)
		}
		if err := m.Write(ctx, audio.Frame{Rate: 8000, Samples: s}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(ctx, t, "the last segment", func() bool { r, _ := fs.Call(c.ID()); return len(r.Broadcasts) == 3 })
	rec, _ := fs.Call(c.ID())
	u := rec.Playbacks[2].Path // queued behind the 1 s segment: still served

	get := func(u string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") != "audio/wav" {
			t.Errorf("%s: Content-Type %q", u, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, b
	}
	code, body := get(u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", u, code)
	}
	w, err := audio.DecodeWAV(body)
	if err != nil || w.Rate != 8000 || w.Channels != 1 || len(w.Samples) != len(last) {
		t.Fatalf("served %d bytes: %+v %v", len(body), w, err)
	}
	for i := range last {
		if w.Samples[i] != last[i] {
			t.Fatalf("sample %d: %d, want %d", i, w.Samples[i], last[i])
		}
	}

	base, name, _ := strings.Cut(u, "/play/")
	id, rest, _ := strings.Cut(name, "/")
	token, file, _ := strings.Cut(rest, "/")
	bad := map[string]string{
		"wrong token":     base + "/play/" + id + "/" + strings.Repeat("A", len(token)) + "/" + file,
		"empty token":     base + "/play/" + id + "//" + file,
		"other call":      base + "/play/" + other.ID() + "/" + token + "/" + file,
		"unknown call":    base + "/play/nosuch/" + token + "/" + file,
		"unknown segment": base + "/play/" + id + "/" + token + "/99.wav",
		"not a number":    base + "/play/" + id + "/" + token + "/x.wav",
		"no extension":    base + "/play/" + id + "/" + token + "/3",
		"traversal":       base + "/play/" + id + "/" + token + "/../3.wav",
	}
	for name, u := range bad {
		if code, _ := get(u); code != http.StatusNotFound && code != http.StatusBadRequest {
			t.Errorf("%s: GET %s: %d, want 404", name, u, code)
		}
	}
	waitFor(ctx, t, "the broadcasts to play", func() bool { return settled(fs, c.ID()) })
	// Deleted once PLAYBACK_STOP reaches the driver.
	waitFor(ctx, t, "the played segment to be deleted", func() bool { code, _ := get(u); return code == http.StatusNotFound })
}
