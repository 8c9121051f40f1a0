package aritest

import (
	"net"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/callee"
)

// setupCalls answers n echo calls, each bridged with an ExternalMedia ulaw channel sending to one app socket.
func setupCalls(b *testing.B, srv *Server, n int) (*net.UDPConn, []*channel) {
	b.Helper()
	app, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	c := newClient(b, srv)
	for i := range n {
		id := "c" + strconv.Itoa(i)
		c.must(200, "POST", "/channels", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot", "channelId": id}, nil)
	}
	srv.tick() // answer them all
	var legs []*channel
	for i := range n {
		id := "c" + strconv.Itoa(i)
		c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": app.LocalAddr().String(), "channelId": id + "-em"}, nil)
		c.must(200, "POST", "/bridges", map[string]any{"bridgeId": id + "-br"}, nil)
		c.must(204, "POST", "/bridges/"+id+"-br/addChannel", map[string]any{"channel": id + "," + id + "-em"}, nil)
		legs = append(legs, srv.channels[id+"-em"])
	}
	return app, legs
}

// BenchmarkTick1000Calls measures one 20 ms tick of the shared clock with 1,000 answered echo calls: every call
// hears one frame from its app, its callee echoes it, and the simulator sends it back as RTP.
func BenchmarkTick1000Calls(b *testing.B) {
	const n = 1000
	srv, err := New(Config{manualClock: true, StasisDelay: -1, Callee: callee.Config{DiscardAudio: true}}) // set-up is not measured here
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	_, legs := setupCalls(b, srv, n)
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = int16(1000 * (i%16 - 8))
	}
	var lat []time.Duration
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, ch := range legs {
			ch.leg.(*rtpLeg).fq.push(srv, frame)
		}
		start := time.Now()
		srv.tick()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	// Each tick carries 20 ms of n calls: CPU per call-second = cpu / (ticks * n * 0.02 s).
	b.ReportMetric(float64(cpu.Microseconds())/(float64(len(lat))*n*0.02), "CPU-µs/call-s")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs/tick")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs/tick")
	b.ReportMetric(float64(lat[len(lat)/2])/float64(audio.FrameDuration)*100, "%-of-20ms")
	if got := srv.Stats().RTPOut; got == 0 {
		b.Fatal("no RTP sent")
	}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPersonTick measures the callee runtime alone (the echo script), per 20 ms frame.
func BenchmarkPersonTick(b *testing.B) {
	p, err := callee.NewPerson(b.Context(), callee.Script{Steps: []callee.Step{{Action: callee.Echo}}}, callee.Config{DiscardAudio: true})
	if err != nil {
		b.Fatal(err)
	}
	f := &audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Tick(time.Duration(i)*audio.FrameDuration, f)
	}
}

// BenchmarkOriginateBusy measures one REST originate (POST /channels, JSON body, Basic auth) end to end.
func BenchmarkOriginateBusy(b *testing.B) {
	srv, err := New(Config{manualClock: true, StasisDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := newClient(b, srv)
	body := map[string]any{"endpoint": "Local/busy@outcall-test", "app": "bot"}
	b.ReportAllocs()
	for b.Loop() {
		c.must(200, "POST", "/channels", body, nil)
	}
}

// BenchmarkRealtimeEcho runs 300 and 1,000 echo calls in real time on the shared clock: one app socket sends every call
// 1 s of ulaw (one packet per call per 20 ms) and counts the echoes. It reports the echoed share and the ticks
// the clock had to skip. Run it with -benchtime=1x.
func BenchmarkRealtimeEcho(b *testing.B) {
	for _, n := range []int{300, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { realtimeEcho(b, n) })
	}
}

func realtimeEcho(b *testing.B, n int) {
	for b.Loop() {
		srv, err := New(Config{Callee: callee.Config{DiscardAudio: true}})
		if err != nil {
			b.Fatal(err)
		}
		c := newClient(b, srv)
		app, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		_ = app.SetReadBuffer(4 << 20)
		var ports []*net.UDPAddr
		for i := range n {
			id := "c" + strconv.Itoa(i)
			c.must(200, "POST", "/channels", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot", "channelId": id}, nil)
		}
		for i := range n {
			id := "c" + strconv.Itoa(i)
			var em Channel
			c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": app.LocalAddr().String(), "channelId": id + "-em"}, &em)
			port, _ := strconv.Atoi(em.ChannelVars["UNICASTRTP_LOCAL_PORT"])
			ports = append(ports, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			c.must(200, "POST", "/bridges", map[string]any{"bridgeId": id + "-br"}, nil)
			for {
				status, _ := c.do("POST", "/bridges/"+id+"-br/addChannel", map[string]any{"channel": id + "," + id + "-em"})
				if status == 204 {
					break
				}
				time.Sleep(20 * time.Millisecond) // not answered yet
			}
		}
		got := make(chan int)
		go func() {
			buf := make([]byte, 1500)
			k := 0
			for {
				_ = app.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				if _, _, err := app.ReadFromUDP(buf); err != nil {
					got <- k
					return
				}
				k++
			}
		}()
		payload := make([]byte, 160)
		for i := range payload {
			payload[i] = byte(0x10 + i%32) // loud ulaw codes
		}
		skipped0 := srv.Stats().SkippedTicks
		tk := time.NewTicker(20 * time.Millisecond)
		for f := range 50 {
			pkt := rtpPacket(0, uint16(f), uint32(160*f), payload)
			for _, p := range ports {
				_, _ = app.WriteToUDP(pkt, p)
			}
			<-tk.C
		}
		tk.Stop()
		echoed := <-got
		b.ReportMetric(float64(echoed)/float64(50*n)*100, "%-echoed")
		b.ReportMetric(float64(srv.Stats().SkippedTicks-skipped0), "skipped-ticks")
		b.ReportMetric(float64(srv.Stats().MediaOverflow), "overflow-frames")
		app.Close()
		_ = srv.Close()
	}
}
