package esl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// newFakeDriver starts a fake FreeSWITCH with fcfg, a client and a driver with cfg.
func newFakeDriver(t *testing.T, fcfg esltest.Config, cfg esl.DriverConfig) (*esltest.Server, *esl.Driver) {
	t.Helper()
	fs, err := esltest.New(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr(), ReconnectMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	d, err := esl.NewDriver(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return fs, d
}

// echoTone writes a tone of freq for n frames and returns the dominant frequency of the first 200 ms window of the
// echo that carries it (0 when none came back within 100 frames).
func echoTone(t *testing.T, ctx context.Context, m call.Media, freq float64, n int) float64 {
	t.Helper()
	f := m.Format()
	go func() {
		var ph float64
		for range n {
			if m.Write(ctx, audio.Frame{Rate: f.Rate, Samples: tone(f.Rate, freq, f.FrameSamples(), &ph)}) != nil {
				return
			}
		}
	}()
	var window []int16
	for range 100 {
		fr, err := m.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(fr.Samples) != f.FrameSamples() || fr.Rate != f.Rate {
			t.Fatalf("frame of %d samples at %d Hz, want %d at %d", len(fr.Samples), fr.Rate, f.FrameSamples(), f.Rate)
		}
		g := audio.NewGoertzel(freq, f.Rate)
		g.Add(fr.Samples)
		if g.Power() < 1e6 { // not (yet) the tone
			window = window[:0]
			continue
		}
		window = append(window, fr.Samples...)
		if len(window) >= 10*f.FrameSamples() {
			got, _ := audio.PeakFrequency(window, f.Rate, 200, float64(f.Rate)/2-200, 5)
			return got
		}
	}
	return 0
}

// TestUnicastToneRoundTrip: on the default media (FreeSWITCH's unicast) a tone sent to an echo comes back at the
// same frequency, at every pairing of the call's format with the channel's codec rate (L16 on the wire at the
// codec's rate, little-endian); comfort noise (0xFF filler) is heard as silence; after hang-up FreeSWITCH's side
// of the socket is closed.
func TestUnicastToneRoundTrip(t *testing.T) {
	for _, codec := range []int{8000, 16000} {
		for _, f := range []audio.Format{audio.Narrowband, audio.Wideband} {
			t.Run(fmt.Sprintf("codec%d/call%d", codec, f.Rate), func(t *testing.T) {
				checkLeaks(t)
				fs, d := newFakeDriver(t, esltest.Config{CodecRate: codec}, esl.DriverConfig{Format: f})
				ctx := testCtx(t, 20*time.Second)
				c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
				if err != nil {
					t.Fatal(err)
				}
				m := c.Media()
				if caps := m.Caps(); caps.Frames == nil || caps.Watch == nil {
					t.Error("unicast media has no frame channel and watch (dialog would start a reader goroutine)")
				} else if caps.Holder == nil {
					t.Error("unicast media has no Holder")
				}
				if rec, err := audio.NewRecorder(f.Rate); err != nil {
					t.Fatal(err)
				} else if caps := call.Recorded(c, rec).Media().Caps(); caps.Frames == nil || caps.Holder == nil {
					t.Error("a recorded unicast call lost its frame channel or Holder")
				}
				const freq = 1000.0
				if got := echoTone(t, ctx, m, freq, 50); got < freq*0.98 || got > freq*1.02 {
					t.Fatalf("echoed tone at %.0f Hz, sent %.0f Hz", got, freq)
				}
				st := m.(interface{ Stats() esl.MediaStats }).Stats()
				if st.Datagrams == 0 || st.CNG == 0 || st.Playout.Sent == 0 {
					t.Errorf("media stats %+v: want datagrams, comfort noise before the tone, frames sent", st)
				}
				rec, _ := fs.Call(c.ID())
				if !strings.HasPrefix(rec.Unicast, "127.0.0.1:") || rec.UnicastIn == 0 || rec.UnicastDropped != 0 {
					t.Errorf("FreeSWITCH side: %q, %d datagrams in, %d dropped", rec.Unicast, rec.UnicastIn, rec.UnicastDropped)
				}
				if err := c.Hangup(ctx, call.CauseNormal); err != nil {
					t.Fatal(err)
				}
				for range c.Events() {
				}
				rec, _ = fs.WaitEnded(ctx, c.ID())
				// FreeSWITCH closed its side: the port binds again.
				local, _, _ := strings.Cut(rec.Unicast, "->")
				conn, err := net.ListenPacket("udp4", local)
				if err != nil {
					t.Errorf("FreeSWITCH's unicast port %s still bound after hang-up: %v", local, err)
				} else {
					conn.Close()
				}
			})
		}
	}
}

// freePortPair finds p with p and p+1 free on 127.0.0.1 and returns p still bound (by this test) by conn.
func freePortPair(t *testing.T) (int, net.PacketConn) {
	t.Helper()
	for range 50 {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := conn.LocalAddr().(*net.UDPAddr).Port
		if p >= 65535 {
			conn.Close()
			continue
		}
		next, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p+1))
		if err != nil {
			conn.Close()
			continue
		}
		next.Close()
		return p, conn
	}
	t.Fatal("no free pair of UDP ports")
	return 0, nil
}

// TestUnicastPortTaken: FreeSWITCH answers +OK to a unicast sendmsg whose port it cannot bind and sends nothing;
// the driver notices the silence and moves to the next port of UnicastPorts.
func TestUnicastPortTaken(t *testing.T) {
	checkLeaks(t)
	p, taken := freePortPair(t)
	defer taken.Close()
	fs, d := newFakeDriver(t, esltest.Config{}, esl.DriverConfig{UnicastPorts: [2]int{p, p + 1}, UnicastTimeout: 200 * time.Millisecond})
	ctx := testCtx(t, 20*time.Second)
	var c call.Call
	var err error
	// The pool starts at a random port of the range; whichever it is, the taken one fails and the other works.
	for range 2 {
		if c, err = d.Dial(ctx, call.Request{Endpoint: "loopback/echo"}); err != nil {
			t.Fatal(err)
		}
		rec, _ := fs.Call(c.ID())
		if rec.UnicastFailures == 1 {
			break
		}
		if err := c.Hangup(ctx, call.CauseNormal); err != nil {
			t.Fatal(err)
		}
		for range c.Events() {
		}
		c = nil
	}
	if c == nil {
		t.Fatal("no call tried the taken port first")
	}
	rec, _ := fs.Call(c.ID())
	if rec.UnicastRequests != 2 || !strings.HasPrefix(rec.Unicast, "127.0.0.1:"+strconv.Itoa(p+1)) {
		t.Fatalf("requests %d, connection %q: want 2 requests, the second on port %d", rec.UnicastRequests, rec.Unicast, p+1)
	}
	if got := echoTone(t, ctx, c.Media(), 700, 50); got < 700*0.98 || got > 700*1.02 {
		t.Fatalf("echoed tone at %.0f Hz after the retry", got)
	}
	_ = c.Hangup(ctx, call.CauseNormal)
	for range c.Events() {
	}
}

// TestUnicastNoMedia: a channel without media (bypass_media) can carry no unicast audio: a clear error, and the
// channel is hung up.
func TestUnicastNoMedia(t *testing.T) {
	checkLeaks(t)
	fs, d := newFakeDriver(t, esltest.Config{}, esl.DriverConfig{UnicastTimeout: 100 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	_, err := d.Dial(ctx, call.Request{ID: "nomedia-1", Endpoint: "loopback/echo", Variables: map[string]string{"bypass_media": "true"}})
	if !errors.Is(err, esl.ErrUnicastSilent) {
		t.Fatalf("Dial: %v, want ErrUnicastSilent", err)
	}
	rec, err := fs.WaitEnded(ctx, "nomedia-1")
	if err != nil || rec.HungUpBy != "app" {
		t.Fatalf("channel after the failed set-up: %+v %v", rec, err)
	}
}

// TestUnicastBargeIn: Flush stops the bot's audio on the wire at once: FreeSWITCH keeps no queue of unicast audio,
// so nothing reaches it more than a frame or two after the Flush.
func TestUnicastBargeIn(t *testing.T) {
	checkLeaks(t)
	fs, d := newFakeDriver(t, esltest.Config{}, esl.DriverConfig{Format: audio.Narrowband})
	ctx := testCtx(t, 20*time.Second)
	c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Media()
	wctx, stopWriting := context.WithCancel(ctx)
	defer stopWriting()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a long prompt: 10 s of tone, written as fast as the playout queue takes it
		defer wg.Done()
		var ph float64
		for range 500 {
			if m.Write(wctx, audio.Frame{Rate: 8000, Samples: tone(8000, 600, 160, &ph)}) != nil {
				return
			}
		}
	}()
	heard := 0
	for heard < 5 { // the prompt is playing: its echo is back
		fr, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := audio.NewGoertzel(600, 8000); true {
			g.Add(fr.Samples)
			if g.Power() > 1e6 {
				heard++
			}
		}
	}
	stopWriting()
	wg.Wait()
	flushed := time.Now()
	played := m.Flush()
	if played <= 0 {
		t.Errorf("Flush reported %v played", played)
	}
	for range 15 { // 300 ms of the call's own clock
		if _, err := m.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := fs.Call(c.ID())
	if late := rec.UnicastLastIn.Sub(flushed); late > 60*time.Millisecond {
		t.Errorf("bot audio reached FreeSWITCH %v after the Flush, want <= 60 ms", late)
	}
	_ = c.Hangup(ctx, call.CauseNormal)
	for range c.Events() {
	}
}

// TestStreamSilentOnOpenSourceModule shows why MediaStream is silent on the open-source mod_audio_stream: it
// ignores the binary frames sent back, so the echo never returns the bot's tone, and the driver says so in a
// warning that names the media to use. A bidirectional module acknowledges playback and gets no warning.
func TestStreamSilentOnOpenSourceModule(t *testing.T) {
	for _, bidirectional := range []bool{false, true} {
		t.Run(fmt.Sprint("bidirectional=", bidirectional), func(t *testing.T) {
			checkLeaks(t)
			var logs syncBuffer
			fs, d := newFakeDriver(t, esltest.Config{NoBidirectional: !bidirectional},
				esl.DriverConfig{Media: esl.MediaStream, StreamAckAfter: 300 * time.Millisecond, Logger: zerolog.New(&logs)})
			ctx := testCtx(t, 20*time.Second)
			c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
			if err != nil {
				t.Fatal(err)
			}
			got := echoTone(t, ctx, c.Media(), 1000, 50)
			_ = c.Hangup(ctx, call.CauseNormal)
			for range c.Events() {
			}
			rec, _ := fs.WaitEnded(ctx, c.ID())
			warned := strings.Contains(logs.String(), "FS_MEDIA=unicast")
			if bidirectional {
				if got < 980 || got > 1020 || warned {
					t.Errorf("bidirectional module: echo at %.0f Hz, warned %v", got, warned)
				}
				return
			}
			if got != 0 || rec.IgnoredFrames == 0 {
				t.Errorf("open-source module: echo at %.0f Hz with %d frames ignored, want silence", got, rec.IgnoredFrames)
			}
			if !warned {
				t.Errorf("no warning naming the media to use; logs:\n%s", logs.String())
			}
		})
	}
}

// TestUnicastLoopbackQueue: a loopback leg queues at most 3 of the frames unicast writes into it and throws the
// queue away on a 4th (mod_loopback's FRAME_QUEUE_LEN), so a burst of 6 datagrams arriving back to back loses
// frames there; a gateway channel's write path keeps them.
func TestUnicastLoopbackQueue(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		clears   bool
	}{{"loopback/echo", true}, {"sofia/gateway/gw/1001", false}} {
		t.Run(strings.ReplaceAll(tc.endpoint, "/", "_"), func(t *testing.T) {
			fs, d := newFakeDriver(t, esltest.Config{CodecRate: 8000}, esl.DriverConfig{Format: audio.Narrowband})
			fs.AddCallee("1001", callee.Script{Name: "silent"})
			ctx := testCtx(t, 20*time.Second)
			c, err := d.Dial(ctx, call.Request{Endpoint: tc.endpoint})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Hangup(context.Background(), call.CauseNormal)
			rec, _ := fs.Call(c.ID())
			local, _, ok := strings.Cut(rec.Unicast, "->")
			if !ok {
				t.Fatalf("no unicast connection on the FreeSWITCH side: %+v", rec)
			}
			conn, err := net.Dial("udp4", local)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			frame := make([]byte, 320) // 20 ms of L16 at 8 kHz
			for range 7 {              // the first datagram of a connection is lost (FreeSWITCH 1.10.12), then a burst of 6
				if _, err := conn.Write(frame); err != nil {
					t.Fatal(err)
				}
			}
			if rec, err = fs.WaitCall(ctx, c.ID(), func(r esltest.Call) bool { return r.UnicastIn+r.UnicastLost >= 7 }); err != nil {
				t.Fatalf("FreeSWITCH side got %d of 7 datagrams: %v", rec.UnicastIn+rec.UnicastLost, err)
			}
			if got := rec.UnicastCleared > 0; got != tc.clears {
				t.Errorf("%s: %d frames cleared from the leg's queue by a burst of 6, want clearing %v", tc.endpoint, rec.UnicastCleared, tc.clears)
			}
		})
	}
}
