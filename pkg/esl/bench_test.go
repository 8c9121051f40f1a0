package esl_test

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/mediatest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// unthrottled is a fake FreeSWITCH without the sessions-per-second throttle: the benchmarks measure the driver,
// and dial faster than vanilla's 30 sessions a second.
var unthrottled = esltest.Config{SessionsPerSecond: -1}

func eventFrame() []byte {
	ev := &esl.Event{Header: map[string]string{"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": esl.NewUUID(),
		"Hangup-Cause": "NORMAL_CLEARING", "Caller-Caller-ID-Name": "Zhang San", "Channel-Name": "sofia/gateway/gw/1555",
		"Event-Date-Local": "2026-11-23 22:00:00", "variable_sip_user_agent": "FreeSWITCH-mod_sofia/1.10.12"}}
	for i := range 40 { // real hangup events carry ~100 headers; 47 here
		ev.Header["variable_x"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "value with spaces & symbols"
	}
	body := esl.EncodePlain(ev)
	m := &esl.Message{Header: map[string]string{"Content-Type": esl.TypeEventPlain}, Body: body}
	return m.AppendTo(nil)
}

// BenchmarkReadEventPlain: frame parse plus event decode of a ~2.5 KB text/event-plain frame.
func BenchmarkReadEventPlain(b *testing.B) {
	frame := eventFrame()
	stream := bytes.Repeat(frame, 64)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	r := bufio.NewReaderSize(bytes.NewReader(stream), 64<<10)
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			r.Reset(bytes.NewReader(stream))
		}
		m, err := esl.ReadMessage(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := esl.ParseEvent(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPIRoundTrip: one `api uuid_exists` command and reply over TCP to the fake, sequential and 16 in flight.
func BenchmarkAPIRoundTrip(b *testing.B) {
	_, c := newFakeWith(b, unthrottled, esl.Config{})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.API(ctx, "uuid_exists x"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		b.SetParallelism(8) // 2 cores × 8 = 16 goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.API(ctx, "uuid_exists x"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkDialEcho: originate with origination_uuid, answer, mod_audio_stream WebSocket connect, hang up.
func BenchmarkDialEcho(b *testing.B) {
	_, c := newFakeWith(b, unthrottled, esl.Config{})
	d, err := esl.NewDriver(c, esl.DriverConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for b.Loop() {
		cl, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
		if err != nil {
			b.Fatal(err)
		}
		if err := cl.Hangup(ctx, call.CauseNormal); err != nil {
			b.Fatal(err)
		}
		for range cl.Events() {
		}
	}
}

// BenchmarkEchoCalls: N concurrent echo calls, each bot writing 1 s of audio through the playout clock and reading
// the echo back over the WebSocket. Reports process CPU (driver + fake FreeSWITCH, both in this process) per
// call-second of audio.
func BenchmarkEchoCalls(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			_, c := newFakeWith(b, unthrottled, esl.Config{})
			d, err := esl.NewDriver(c, esl.DriverConfig{Format: audio.Narrowband})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var cpu time.Duration
			var seconds float64
			for b.Loop() {
				calls := make([]call.Call, n)
				for i := range calls {
					if calls[i], err = d.Dial(ctx, call.Request{Endpoint: "loopback/echo"}); err != nil {
						b.Fatal(err)
					}
				}
				start := processCPU()
				var wg sync.WaitGroup
				for _, cl := range calls {
					wg.Add(2)
					go func() {
						defer wg.Done()
						var ph float64
						for range 50 {
							_ = cl.Media().Write(ctx, audio.Frame{Rate: 8000, Samples: tone(8000, 1000, 160, &ph)})
						}
					}()
					go func() {
						defer wg.Done()
						for range 50 {
							if _, err := cl.Media().Read(ctx); err != nil {
								return
							}
						}
					}()
				}
				wg.Wait()
				cpu += processCPU() - start
				seconds += float64(n)
				for _, cl := range calls {
					_ = cl.Hangup(ctx, call.CauseNormal)
					for range cl.Events() {
					}
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/seconds, "cpu-µs/call-s")
		})
	}
}

// driverGoroutines counts the goroutines running the driver's code (pkg/esl, not the in-process fake FreeSWITCH)
// and the shared audio machinery.
func driverGoroutines() int {
	return mediatest.Goroutines([]string{"outcall/pkg/esl.", "outcall/pkg/audio."}, []string{"/pkg/esl/esltest.", "/pkg/callee."})
}

// BenchmarkGoroutinesPerCall: goroutines of the driver per live call, for each media mode, with N answered
// calls each reading through their frame channel as the dialog runtime does (no reader goroutine of its own).
func BenchmarkGoroutinesPerCall(b *testing.B) {
	for _, mode := range []esl.MediaMode{esl.MediaUnicast, esl.MediaStream} {
		b.Run(mode.String(), func(b *testing.B) {
			const n = 50
			_, c := newFakeWith(b, unthrottled, esl.Config{})
			d, err := esl.NewDriver(c, esl.DriverConfig{Format: audio.Narrowband, Media: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var perCall float64
			for b.Loop() {
				base := driverGoroutines()
				calls := make([]call.Call, n)
				for i := range calls {
					if calls[i], err = d.Dial(ctx, call.Request{Endpoint: "loopback/echo"}); err != nil {
						b.Fatal(err)
					}
				}
				for _, cl := range calls { // every call's media is flowing
					<-cl.Media().Caps().Frames
				}
				perCall = float64(driverGoroutines()-base) / n
				for _, cl := range calls {
					_ = cl.Hangup(ctx, call.CauseNormal)
					for range cl.Events() {
					}
				}
			}
			b.ReportMetric(perCall, "goroutines/call")
		})
	}
}
