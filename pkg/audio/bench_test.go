package audio

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// threadCPU returns the calling OS thread's CPU time. Benchmarks on this shared machine report it next to wall
// time, since other processes stretch wall time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFramePipeline is the per-call receive path for one 20 ms frame: G.711 µ-law decode, resample 8 → 16
// kHz (for ASR), VAD. The VAD runs either on the 8 kHz frame (the callee's audio is narrowband; the VAD's band is
// 200-1200 Hz) or on the 16 kHz one.
func BenchmarkFramePipeline(b *testing.B) {
	for _, vadRate := range []int{8000, 16000} {
		b.Run(fmt.Sprintf("vad=%dk", vadRate/1000), func(b *testing.B) {
			speech := synthSpeech(8000, 100, [][2]int{{20, 60}}, 20)
			ulaw := EncodeULaw(nil, speech)
			pcm8 := make([]int16, 160)
			r, _ := NewResampler(8000, 16000)
			pcm16 := make([]int16, 0, r.OutLen(160))
			v := NewVAD(VADConfig{})
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			i := 0
			c0 := threadCPU()
			for b.Loop() {
				pcm8 = DecodeULaw(pcm8, ulaw[i:i+160])
				pcm16 = r.Process(pcm16, pcm8)
				if vadRate == 8000 {
					v.Process(Frame{Rate: 8000, Samples: pcm8})
				} else {
					v.Process(Frame{Rate: 16000, Samples: pcm16})
				}
				i = (i + 160) % (len(ulaw) - 160)
			}
			b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkClock2000Streams drives 2,000 streams, each fed by its own producer goroutine, through one playout
// clock at 20 ms; b.N is the number of ticks. It reports the send lateness (actual − scheduled) percentiles.
// Variants: one group (one SendBatch per tick), 20 groups of 100 sending real UDP datagrams to 127.0.0.1, and one
// group per stream.
func BenchmarkClock2000Streams(b *testing.B) {
	b.Run("baseline-streams=1", func(b *testing.B) { benchClock(b, 1, 1, false) })
	b.Run("groups=1", func(b *testing.B) { benchClock(b, 2000, 1, false) })
	b.Run("groups=2000", func(b *testing.B) { benchClock(b, 2000, 2000, false) })
	b.Run("groups=20-udp-sendmmsg", func(b *testing.B) { benchClock(b, 2000, 20, true) })
}

// udpSender sends a tick's frames as µ-law datagrams in one sendmmsg call (ipv4.PacketConn.WriteBatch).
type udpSender struct {
	pc   *ipv4.PacketConn
	to   *net.UDPAddr
	msgs []ipv4.Message
	bufs [][]byte
}

func (u *udpSender) SendBatch(_ time.Time, out []Outgoing) {
	for len(u.msgs) < len(out) {
		u.bufs = append(u.bufs, make([]byte, 160))
		u.msgs = append(u.msgs, ipv4.Message{Buffers: [][]byte{nil}, Addr: u.to})
	}
	for i, o := range out {
		u.bufs[i] = EncodeULaw(u.bufs[i], o.Frame.Samples)
		u.msgs[i].Buffers[0] = u.bufs[i]
	}
	for msgs := u.msgs[:len(out)]; len(msgs) > 0; {
		n, err := u.pc.WriteBatch(msgs, 0)
		if err != nil || n == 0 {
			return
		}
		msgs = msgs[n:]
	}
}

type encodeSender struct{ buf []byte }

func (e *encodeSender) SendBatch(_ time.Time, out []Outgoing) {
	for _, o := range out {
		e.buf = EncodeULaw(e.buf, o.Frame.Samples)
	}
}

func benchClock(b *testing.B, streams, groups int, udp bool) {
	c := NewClock(ClockConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sink *net.UDPConn
	if udp {
		var err error
		sink, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer sink.Close()
		sink.SetReadBuffer(8 << 20)
		go func() { // drain
			buf := make([]byte, 2048)
			for {
				if _, _, err := sink.ReadFromUDP(buf); err != nil {
					return
				}
			}
		}()
	}
	gs := make([]*Group, groups)
	for i := range gs {
		if udp {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			gs[i] = c.NewGroup(&udpSender{pc: ipv4.NewPacketConn(conn), to: sink.LocalAddr().(*net.UDPAddr)})
		} else {
			gs[i] = c.NewGroup(&encodeSender{})
		}
	}
	frame := Frame{Rate: 8000, Samples: sine(8000, 440, 8000, 160)}
	var wg sync.WaitGroup
	for i := range streams {
		s, _ := gs[i%groups].NewPlayout(PlayoutConfig{Depth: 5})
		wg.Go(func() {
			for s.Write(ctx, frame) == nil {
			}
		})
	}
	// Let producers fill their queues, then measure b.N ticks.
	runDone := make(chan struct{})
	go func() { c.Run(ctx); close(runDone) }()
	waitTicks := func(n uint64) {
		for c.Stats().Ticks < n {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitTicks(10)
	c.ResetStats()
	start := c.Stats().Ticks
	b.ResetTimer()
	waitTicks(start + uint64(b.N))
	b.StopTimer()
	st := c.Stats()
	cancel()
	wg.Wait()
	<-runDone
	b.ReportMetric(float64(st.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(st.P99.Microseconds()), "p99-µs")
	b.ReportMetric(float64(st.Max.Microseconds()), "max-µs")
	b.ReportMetric(float64(st.Skipped), "skipped-ticks")
}
