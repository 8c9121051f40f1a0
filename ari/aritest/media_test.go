package aritest

import (
	"encoding/binary"
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
)

// rtpApp is the app side of an ExternalMedia call: one UDP socket that sends to the channel's local address and
// receives what the simulator sends.
type rtpApp struct {
	t      *testing.T
	conn   *net.UDPConn
	remote *net.UDPAddr
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// bridgeCall answers endpoint, bridges it with a new ExternalMedia rtp/udp channel in format and returns the app
// side of the media plus the call's channel id.
func bridgeCall(t *testing.T, c *client, ev *events, endpoint, format string) (*rtpApp, string) {
	t.Helper()
	conn := listenUDP(t)
	id := originate(t, c, endpoint, nil)
	ev.stasis(id)
	var em Channel
	c.must(200, "POST", "/channels/externalMedia", map[string]any{
		"app": "bot", "format": format, "external_host": conn.LocalAddr().String(), "channelId": id + "-em",
	}, &em)
	port, err := strconv.Atoi(em.ChannelVars["UNICASTRTP_LOCAL_PORT"])
	if err != nil || em.ChannelVars["UNICASTRTP_LOCAL_ADDRESS"] != "127.0.0.1" {
		t.Fatalf("externalMedia channelvars %v", em.ChannelVars)
	}
	if em.Name[:len("UnicastRTP/")] != "UnicastRTP/" {
		t.Fatalf("externalMedia name %q", em.Name)
	}
	ev.stasis(id + "-em") // the response comes before the channel is in the app, as on Asterisk
	c.must(200, "POST", "/bridges", map[string]any{"bridgeId": id + "-br", "type": "mixing"}, nil)
	c.must(204, "POST", "/bridges/"+id+"-br/addChannel", map[string]any{"channel": id + "," + id + "-em"}, nil)
	return &rtpApp{t: t, conn: conn, remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}, id
}

func rtpPacket(pt byte, seq uint16, ts uint32, payload []byte) []byte {
	p := make([]byte, 12, 12+len(payload))
	p[0], p[1] = 0x80, pt
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], 0x1234)
	return append(p, payload...)
}

// sendTone sends d of a 1 kHz tone, paced at 20 ms, in format.
func (a *rtpApp) sendTone(format string, d time.Duration) {
	rate, pt := 8000, byte(0)
	if format == "slin16" {
		rate, pt = 16000, 118
	}
	n := rate / 50
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for i := range int(d / (20 * time.Millisecond)) {
		pcm := tone(1000, rate, n, i*n, 8000)
		var payload []byte
		if pt == 0 {
			payload = audio.EncodeULaw(nil, pcm)
		} else {
			payload = audio.AppendPCM16BE(nil, pcm)
		}
		if _, err := a.conn.WriteToUDP(rtpPacket(pt, uint16(i), uint32(i*n), payload), a.remote); err != nil {
			a.t.Fatal(err)
		}
		<-tk.C
	}
}

// receive collects the audio of the packets that arrive within d, decoded per format.
func (a *rtpApp) receive(format string, d time.Duration) (pcm []int16, packets int, markers int) {
	buf := make([]byte, 1500)
	deadline := time.Now().Add(d)
	for {
		_ = a.conn.SetReadDeadline(deadline)
		n, from, err := a.conn.ReadFromUDP(buf)
		if err != nil {
			return pcm, packets, markers
		}
		if from.Port != a.remote.Port {
			a.t.Errorf("packet from %v, want the channel's local port %d", from, a.remote.Port)
		}
		pt, payload, ok := parseRTP(buf[:n])
		if !ok {
			a.t.Fatalf("simulator sent a malformed packet % x", buf[:n])
		}
		packets++
		if buf[1]&0x80 != 0 {
			markers++
		}
		switch format {
		case "ulaw":
			if pt != 0 || len(payload) != 160 {
				a.t.Fatalf("ulaw packet pt %d len %d", pt, len(payload))
			}
			pcm = append(pcm, audio.DecodeULaw(nil, payload)...)
		case "slin16":
			if pt != 118 || len(payload) != 640 {
				a.t.Fatalf("slin16 packet pt %d len %d", pt, len(payload))
			}
			pcm = append(pcm, audio.PCM16BE(nil, payload)...)
		}
	}
}

func TestRTPEchoRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format string
		rate   int
		mix    int
	}{{"ulaw", 8000, 8000}, {"slin16", 16000, 16000}, {"slin16", 16000, 8000}} {
		t.Run(tc.format+"-mix"+strconv.Itoa(tc.mix), func(t *testing.T) {
			t.Parallel()
			srv := Start(t, Config{Rate: tc.mix})
			c := newClient(t, srv)
			ev := c.events("bot")
			app, id := bridgeCall(t, c, ev, "Local/echo@outcall-test", tc.format)
			got := make(chan []int16, 1)
			var packets, markers int
			go func() {
				pcm, n, m := app.receive(tc.format, 1500*time.Millisecond)
				packets, markers = n, m
				got <- pcm
			}()
			app.sendTone(tc.format, time.Second)
			pcm := <-got
			if tc.format == "slin16" {
				// As on Asterisk: the app's slin16 (dynamic PT 118) is dropped unseen, so the echo has nothing to
				// return and the callee hears nothing.
				st := srv.Stats()
				if packets != 0 || st.RTPDynamic < 45 || st.RTPIn != 0 {
					t.Fatalf("slin16 from the app: %d echoed, stats %+v; want it dropped as Asterisk does", packets, st)
				}
				return
			}
			if packets < 40 || packets > 52 {
				t.Fatalf("echoed %d packets for 50 sent", packets)
			}
			if markers < 1 {
				t.Fatal("no marker bit on the first packet of the talk spurt")
			}
			// Skip the resampler's start-up, then the echo must be a clean 1 kHz tone.
			body := pcm[len(pcm)/4 : 3*len(pcm)/4]
			if p := goertzel(body, 1000, tc.rate); p < 0.8 {
				t.Fatalf("1 kHz holds %.2f of the echoed power, want > 0.8", p)
			}
			if p := goertzel(body, 1000*float64(tc.rate)/8000*2, tc.rate); p > 0.1 && tc.rate == 16000 {
				t.Fatalf("byte-order garbage: %.2f at 2 kHz", p)
			}
			if st := srv.Stats(); st.RTPIn < 45 || st.RTPOut < 40 || st.RTPBadSource+st.RTPBadType+st.RTPMalformed != 0 {
				t.Fatalf("stats %+v", st)
			}
			rec, _ := srv.Call(id)
			if rec.Person == nil || rec.Person.BotFrames() < 45 {
				t.Fatalf("callee heard %v", rec.Person)
			}
		})
	}
}

func TestRTPBadPacketsAreCountedNotFatal(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	app, _ := bridgeCall(t, c, ev, "Local/echo@outcall-test", "ulaw")
	stranger := listenUDP(t)
	good := rtpPacket(0, 1, 160, make([]byte, 160))
	send := func(conn *net.UDPConn, b []byte) {
		if _, err := conn.WriteToUDP(b, app.remote); err != nil {
			t.Fatal(err)
		}
	}
	send(stranger, good)                                                            // wrong source
	send(app.conn, rtpPacket(8, 2, 320, make([]byte, 160)))                         // wrong payload type
	send(app.conn, rtpPacket(0, 3, 480, make([]byte, 7)))                           // wrong size
	send(app.conn, []byte{1, 2, 3})                                                 // not RTP
	send(app.conn, []byte{0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff}) // extension past the end
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := srv.Stats()
		if st.RTPBadSource == 1 && st.RTPBadType == 2 && st.RTPMalformed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want 1 bad source, 2 bad type, 2 malformed", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Stats().RTPIn != 0 {
		t.Fatal("a bad packet was accepted")
	}
}

func TestAudioSocketRoundTrip(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	id := originate(t, c, "Local/echo@outcall-test", nil)
	ev.until("StasisStart", 3*time.Second)
	const uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			accepted <- conn
		}
	}()
	var em Channel
	c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "slin", "external_host": ln.Addr().String(),
		"encapsulation": "audiosocket", "transport": "tcp", "data": uuid, "channelId": "as1"}, &em)
	conn := <-accepted
	defer conn.Close()
	hdr := make([]byte, 19)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x01 || binary.BigEndian.Uint16(hdr[1:]) != 16 || hdr[3] != 0x0f || hdr[18] != 0xf0 {
		t.Fatalf("uuid message % x", hdr)
	}
	ev.stasis("as1")
	c.must(200, "POST", "/bridges?bridgeId=asb", nil, nil)
	c.must(204, "POST", "/bridges/asb/addChannel?channel="+id+",as1", nil, nil)
	// The tone goes on until 40 frames have come back: a simulator starved of CPU skips ticks and loses their
	// frames (as Asterisk would), so a fixed 50 frames could come back as 39.
	echoed := make(chan struct{}) // closed once they have; a failed test ends the sender by closing conn
	go func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			msg := []byte{0x10, 1, 64}
			msg = audio.AppendPCM16LE(msg, tone(1000, 8000, 160, i*160, 8000))
			if _, err := conn.Write(msg); err != nil {
				return
			}
			select {
			case <-tk.C:
			case <-echoed:
				return
			}
		}
	}()
	var pcm []int16
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard against a hang, not a measure
	for len(pcm) < 40*160 {
		h := make([]byte, 3)
		if _, err := io.ReadFull(conn, h); err != nil {
			t.Fatalf("after %d samples: %v", len(pcm), err)
		}
		n := int(binary.BigEndian.Uint16(h[1:]))
		if h[0] != 0x10 || n != 320 {
			t.Fatalf("audio message kind %#x len %d", h[0], n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, audio.PCM16LE(nil, b)...)
	}
	close(echoed)
	if p := goertzel(pcm[1000:5000], 1000, 8000); p < 0.8 {
		t.Fatalf("1 kHz holds %.2f of the echoed power (little-endian expected)", p)
	}
	// Hanging up the AudioSocket channel closes the connection.
	c.must(204, "DELETE", "/channels/as1", nil, nil)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, err := conn.Read(make([]byte, 4096)); err != nil {
			if err != io.EOF {
				t.Fatalf("after hangup: %v, want EOF", err)
			}
			break
		}
	}
}

func TestScriptedCallee(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	reply := tone(440, 8000, 8000/2, 0, 6000) // 500 ms
	err := srv.AddCallee("13800138000", callee.Script{Name: "yes-then-1", AnswerAfter: 200 * time.Millisecond, Steps: []callee.Step{
		{Action: callee.Say, When: callee.AfterBot, Audio: reply, Text: "yes"},
		{Action: callee.Press, When: callee.Now, Digits: "1"},
		{Action: callee.HangUp, When: callee.Now},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCallee("bad", callee.Script{Steps: []callee.Step{{Action: callee.Press}}}); err == nil {
		t.Fatal("AddCallee accepted an invalid script")
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	app, id := bridgeCall(t, c, ev, "PJSIP/13800138000@trunk", "ulaw")
	got := make(chan []int16, 1)
	go func() {
		pcm, _, _ := app.receive("ulaw", 2500*time.Millisecond)
		got <- pcm
	}()
	sent := time.Now()
	app.sendTone("ulaw", 400*time.Millisecond) // the bot's greeting
	evs := ev.until("ChannelDtmfReceived", 3*time.Second)
	if d := evs[len(evs)-1]; d["digit"] != "1" || chanID(d) != id {
		t.Fatalf("dtmf %v", d)
	}
	evs = ev.until("ChannelDestroyed", 2*time.Second)
	if last := evs[len(evs)-1]; chanID(last) != id || last["cause"] != float64(16) {
		t.Fatalf("hangup %v", last)
	}
	elapsed := time.Since(sent)
	pcm := <-got
	if len(pcm) < 20*160 || len(pcm) > 26*160 {
		t.Fatalf("callee sent %d samples, want ~500 ms", len(pcm))
	}
	if p := goertzel(pcm, 440, 8000); p < 0.8 {
		t.Fatalf("callee audio is not its 440 Hz clip: %.2f", p)
	}
	if elapsed < 1300*time.Millisecond {
		t.Fatalf("callee finished %v after the greeting began: it did not wait for the bot's 500 ms quiet gap", elapsed)
	}
	rec, ok := srv.Call(id)
	if !ok || rec.Number != "13800138000" || rec.Outcome != call.Answered || rec.HungUpBy != "callee" || rec.DTMFPressed != "1" ||
		rec.Answer.Sub(rec.Start) < 200*time.Millisecond {
		t.Fatalf("record %+v", rec)
	}
	tr := rec.Person.Transcript()
	if len(tr) != 1 || tr[0].Text != "yes" || tr[0].BotTalking {
		t.Fatalf("transcript %+v", tr)
	}
	bot := rec.Person.BotAudio()
	if p := goertzel(bot.Samples, 1000, 8000); p < 0.5 {
		t.Fatalf("recorded bot audio holds %.2f at 1 kHz", p)
	}
	if srv.MaxConcurrent("13800138000") != 1 {
		t.Fatalf("max concurrent %d", srv.MaxConcurrent("13800138000"))
	}
}

func TestTransferToAgentIsRecorded(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	if err := srv.AddCallee("8001", callee.Script{Name: "agent"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCallee("139", callee.Script{Name: "customer"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	cust := originate(t, c, "PJSIP/139@trunk", map[string]any{"channelId": "cust"})
	ev.until("StasisStart", 2*time.Second)
	agent := originate(t, c, "PJSIP/8001@agents", map[string]any{"channelId": "agent"})
	ev.until("StasisStart", 2*time.Second)
	c.must(200, "POST", "/bridges?bridgeId=xfer", nil, nil)
	c.must(204, "POST", "/bridges/xfer/addChannel?channel="+cust+","+agent, nil, nil)
	rec, _ := srv.Call(cust)
	if srv.MaxActive() != 2 {
		t.Fatalf("max active %d, want 2", srv.MaxActive())
	}
	if rec.Transfer != "PJSIP/8001@agents" {
		t.Fatalf("transfer %q", rec.Transfer)
	}
}

func TestBargeInStopLatencyOverRTP(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	if err := srv.AddCallee("555", callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.At, Offset: 300 * time.Millisecond, Audio: tone(440, 8000, 8000, 0, 6000), Text: "stop"},
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	app, id := bridgeCall(t, c, ev, "PJSIP/555@trunk", "ulaw")
	heard := make(chan struct{})
	go func() { // the bot's barge-in detector: the first callee packet
		buf := make([]byte, 1500)
		_ = app.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, _, err := app.conn.ReadFromUDP(buf); err == nil {
			close(heard)
		}
	}()
	// The bot talks until 200 ms after it first hears the callee.
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	var stopAt <-chan time.Time
	pcm := tone(1000, 8000, 160, 0, 8000)
	deadline := time.After(3 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-heard:
			stopAt, heard = time.After(200*time.Millisecond), nil
		case <-stopAt:
			time.Sleep(700 * time.Millisecond) // let the callee notice the quiet
			rec, _ := srv.Call(id)
			tr := rec.Person.Transcript()
			if len(tr) != 1 || !tr[0].BotTalking {
				t.Fatalf("transcript %+v, want one barge-in", tr)
			}
			if l := tr[0].StopLatency(); l < 160*time.Millisecond || l > 400*time.Millisecond {
				t.Fatalf("stop latency %v, want about 200 ms", l)
			}
			return
		case <-tk.C:
			if _, err := app.conn.WriteToUDP(rtpPacket(0, uint16(i), uint32(160*i), audio.EncodeULaw(nil, pcm)), app.remote); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("callee never spoke")
		}
	}
}

func TestAppCancelsRingingCall(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "Local/noanswer@outcall-test", nil)
	ev.until("ChannelStateChange", 2*time.Second)
	c.must(204, "DELETE", "/channels/"+id+"?reason_code=16", nil, nil)
	evs := ev.until("ChannelDestroyed", 2*time.Second)
	var got []string
	for _, e := range evs {
		got = append(got, sig(e))
	}
	rec, _ := srv.Call(id)
	if rec.Outcome != call.Cancelled || rec.HungUpBy != "app" || !slices.Contains(got, "Dial(1):CANCEL") {
		t.Fatalf("record %+v events %q", rec, got)
	}
}

func TestSnoopCarriesCalleeAudio(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	if err := srv.AddCallee("777", callee.Script{Steps: []callee.Step{
		// 10 s of tone: it still plays once the snoop is bridged, however long the five requests take on a
		// loaded machine (a 1 s tone could end first: "snoop carried 7 packets"). The hang-up below ends it.
		{Action: callee.Say, When: callee.At, Offset: 200 * time.Millisecond, Audio: tone(440, 8000, 80000, 0, 6000)},
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	conn := listenUDP(t)
	id := originate(t, c, "PJSIP/777@trunk", nil)
	ev.stasis(id)
	c.must(200, "POST", "/channels/"+id+"/snoop", map[string]any{"app": "bot", "spy": "in", "snoopId": "sn"}, nil)
	var em Channel
	c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": conn.LocalAddr().String(), "channelId": "em"}, &em)
	ev.stasis("sn", "em")
	c.must(200, "POST", "/bridges?bridgeId=spy", nil, nil)
	c.must(204, "POST", "/bridges/spy/addChannel?channel=sn,em", nil, nil)
	port, _ := strconv.Atoi(em.ChannelVars["UNICASTRTP_LOCAL_PORT"])
	app := &rtpApp{t: t, conn: conn, remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
	pcm, packets, _ := app.receive("ulaw", 800*time.Millisecond)
	if packets < 10 {
		t.Fatalf("snoop carried %d packets", packets)
	}
	if p := goertzel(pcm, 440, 8000); p < 0.8 {
		t.Fatalf("snooped audio holds %.2f at 440 Hz", p)
	}
	// Hanging up the call takes its snoop down too.
	c.must(204, "DELETE", "/channels/"+id, nil, nil)
	c.must(404, "GET", "/channels/sn", nil, nil)
}

func TestTalkDetect(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	if err := srv.AddCallee("321", callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.At, Offset: 300 * time.Millisecond, Audio: tone(440, 8000, 3200, 0, 6000)}, // 400 ms
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "PJSIP/321@trunk", nil)
	ev.stasis(id)
	c.must(400, "POST", "/channels/"+id+"/variable", map[string]any{"variable": "TALK_DETECT(set)", "value": "x"}, nil)
	c.must(204, "POST", "/channels/"+id+"/variable", map[string]any{"variable": "TALK_DETECT(set)", "value": "200"}, nil)
	evs := ev.until("ChannelTalkingFinished", 3*time.Second)
	var started bool
	for _, e := range evs {
		started = started || e.Type() == "ChannelTalkingStarted"
	}
	fin := evs[len(evs)-1]
	if !started || chanID(fin) != id || fin["duration"] != float64(400) {
		t.Fatalf("talk detect events %v", evs)
	}
}
