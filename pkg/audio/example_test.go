package audio_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// printSender stands in for a transport: it would packetise each frame (for RTP, one µ-law datagram each).
type printSender struct{ sent chan int }

func (p printSender) SendBatch(_ time.Time, out []audio.Outgoing) {
	for range out {
		p.sent <- 1
	}
}

// One shared clock paces every call's outgoing audio; each call writes frames to its stream, and on barge-in
// Flush says how much the callee actually heard.
func ExampleClock() {
	clock := audio.NewClock(audio.ClockConfig{Period: time.Millisecond}) // 20 ms in production
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go clock.Run(ctx)

	sender := printSender{sent: make(chan int, 10)}
	group := clock.NewGroup(sender) // e.g. one UDP socket
	stream, _ := group.NewPlayout(audio.PlayoutConfig{})
	defer stream.Close()

	for range 3 {
		stream.Write(ctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
	}
	for range 3 {
		<-sender.sent
	}
	fmt.Println("heard before barge-in:", stream.Flush())
	// Output: heard before barge-in: 60ms
}

func ExampleDecodeULaw() {
	payload := []byte{0xFF, 0x80, 0x00} // from an RTP PCMU packet
	pcm := audio.DecodeULaw(make([]int16, 0, 160), payload)
	fmt.Println(pcm)
	// Output: [0 32124 -32124]
}

func ExampleResampler() {
	r, _ := audio.NewResampler(8000, 16000)
	in := audio.Frame{Rate: 8000, Samples: make([]int16, 160)} // 20 ms from the callee
	out, _ := r.ProcessFrame(make([]int16, 0, 320), in)
	fmt.Println(out.Rate, len(out.Samples), out.Duration())
	// Output: 16000 320 20ms
}

func ExampleVAD() {
	v := audio.NewVAD(audio.VADConfig{})
	quiet := make([]int16, 160) // line hiss
	for i := range quiet {
		quiet[i] = int16((i*7919)%201 - 100)
	}
	loud := make([]int16, 160)
	for i := range loud {
		loud[i] = int16(2000 * (i%16 - 8)) // a buzzy 500 Hz sawtooth
	}
	// The buzz runs from 200 ms to 600 ms. Its abrupt stop, 40 dB above the hiss, leaves a band-filter tail
	// that carries the end into the next frame.
	for i := range 50 {
		f := quiet
		if i >= 10 && i < 30 {
			f = loud
		}
		if ev, ok := v.Process(audio.Frame{Rate: 8000, Samples: f}); ok {
			fmt.Println(ev.Kind, "at", ev.At, "reported at", ev.Detected)
		}
	}
	// Output:
	// speech-start at 200ms reported at 260ms
	// speech-end at 620ms reported at 920ms
}

func ExampleToneDetector() {
	d := audio.NewToneDetector(audio.ToneConfig{})
	var events []audio.ToneEvent
	for i := range 10 { // 200 ms of DTMF '5' (770 + 1336 Hz)
		s := make([]int16, 160)
		for j := range s {
			t := float64(i*160+j) / 8000
			s[j] = int16(4000*sin(770*t) + 4000*sin(1336*t))
		}
		events = d.Process(events, audio.Frame{Rate: 8000, Samples: s})
	}
	fmt.Printf("%v %c at %v\n", events[0].Kind, events[0].Digit, events[0].At)
	// Output: dtmf 5 at 0s
}

func sin(x float64) float64 { return math.Sin(2 * math.Pi * x) }
