package esl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// Dial connects to the event socket; API and BgAPI run commands. Here FreeSWITCH is the esltest fake.
func ExampleDial() {
	fs, _ := esltest.New(esltest.Config{})
	defer fs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr(), Password: "ClueCon"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_, err = c.BgAPI(ctx, "originate {origination_uuid=ex-1}loopback/busy &park()")
	var e *esl.Error
	if errors.As(err, &e) {
		fmt.Println(e.Reply, esl.OutcomeOfCause(e.Cause()))
	}
	// Output: USER_BUSY busy
}

// A Driver places calls that carry their audio over mod_audio_stream's WebSocket.
func ExampleNewDriver() {
	fs, _ := esltest.New(esltest.Config{})
	defer fs.Close()
	fs.AddCallee("13800138000", callee.Script{Steps: []callee.Step{
		{Action: callee.Press, When: callee.At, Offset: 100 * time.Millisecond, Digits: "1"},
		{Action: callee.HangUp, When: callee.Now},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	drv, err := esl.NewDriver(client, esl.DriverConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer drv.Close()
	c, err := drv.Dial(ctx, call.Request{Endpoint: "sofia/gateway/trunk/13800138000", Timeout: 30 * time.Second})
	if err != nil {
		fmt.Println(call.OutcomeOfError(err), err)
		return
	}
	for ev := range c.Events() {
		switch ev.Type {
		case call.EventDTMF:
			fmt.Println("pressed", string(ev.Digit))
		case call.EventHangup:
			fmt.Println("hung up by callee:", ev.Remote, ev.Cause)
		}
	}
	// Output:
	// pressed 1
	// hung up by callee: true Normal Clearing
}

// EncodeVars escapes commas and quotes so a value cannot split the originate variable block.
func ExampleEncodeVars() {
	fmt.Println(esl.EncodeVars(map[string]string{"origination_uuid": "u1", "tags": "vip,finance"}))
	// Output: {origination_uuid=u1,tags=vip\,finance}
}

// An outbound-mode server: the dialplan (or `originate ... &socket(host:port async full)`) connects each channel to
// it, and Attach makes the connection a call.Call with the same media as Dial.
func ExampleNewServer() {
	ctx := context.Background()
	client, err := esl.Dial(ctx, esl.Config{Addr: "127.0.0.1:8021", Password: "ClueCon"})
	if err != nil {
		return
	}
	defer client.Close()
	drv, err := esl.NewDriver(client, esl.DriverConfig{MediaURL: "ws://10.0.0.5:8090"})
	if err != nil {
		return
	}
	defer drv.Close()
	ln, err := net.Listen("tcp", ":8084")
	if err != nil {
		return
	}
	srv := esl.NewServer(ln, esl.OutboundConfig{})
	_ = srv.Serve(ctx, func(ctx context.Context, oc *esl.OutboundConn) {
		c, err := drv.Attach(ctx, oc)
		if err != nil {
			return
		}
		defer c.Hangup(ctx, call.CauseNormal)
		// run a dialog on c: dialog.Run(ctx, c, script, deps)
	})
}

// With an audio-stream module that has no bidirectional mode, the bot's audio goes as WAV segments the driver
// serves on its media port, played with uuid_broadcast; Flush (barge-in) sends uuid_break <uuid> all.
func ExampleDriverConfig_playbackBroadcast() {
	fs, _ := esltest.New(esltest.Config{NoBidirectional: true})
	defer fs.Close()
	fs.AddCallee("13800138000", callee.Script{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	// PlaybackURL is how FreeSWITCH reaches the media port, e.g. "http://10.0.0.5:8090"; here the default.
	drv, err := esl.NewDriver(client, esl.DriverConfig{Media: esl.MediaBroadcast})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer drv.Close()
	c, err := drv.Dial(ctx, call.Request{Endpoint: "sofia/gateway/trunk/13800138000"})
	if err != nil {
		fmt.Println(call.OutcomeOfError(err), err)
		return
	}
	defer c.Hangup(ctx, call.CauseNormal)
	for range 25 { // 500 ms: a 300 ms first segment, then the rest once the writes pause
		_ = c.Media().Write(ctx, audio.Frame{Rate: 16000, Samples: make([]int16, 320)})
	}
	rec, _ := fs.Call(c.ID())
	for played := 0; played < 500; { // until the fake has played both segments
		time.Sleep(20 * time.Millisecond) // polling the fake's record: it has no event for the example to wait on
		rec, _ = fs.Call(c.ID())
		played = 0
		for _, p := range rec.Playbacks {
			if p.Status == "done" {
				played += int(p.Played / time.Millisecond)
			}
		}
	}
	for _, p := range rec.Playbacks {
		fmt.Println(p.Status, p.Played)
	}
	// Output:
	// done 300ms
	// done 200ms
}
