package nlu

import (
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used (user + system). On a shared machine it measures the work done
// where wall-clock ns/op also counts time spent waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric measured since start.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// utterances is a mix of what callees say on collection, order-confirmation and follow-up calls.
var utterances = []string{
	"是的", "不需要，谢谢", "嗯", "我下周一下午三点前还一千二百五十块五毛", "你们是骗子吧，别再打了", "帮我转人工",
	"身份证后四位是幺三八九", "我现在在开会，晚点再打", "利息是多少", "没听清，再说一遍", "我不是本人，你打错了",
	"15号还500元", "yes", "I don't need it, thanks", "can I talk to a real person", "stop calling me",
	"I can pay $250 next Monday at 3:30 pm", "who is this", "four five six seven", "this is ridiculous",
}

func BenchmarkMatch(b *testing.B) {
	m := commonMatcher(b)
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		m.Match(utterances[i%len(utterances)])
		i++
	}
}

func BenchmarkExtractAll(b *testing.B) {
	ref := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		ExtractAll(utterances[i%len(utterances)], ref)
		i++
	}
}

func BenchmarkSentiment(b *testing.B) {
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		Sentiment(utterances[i%len(utterances)])
		i++
	}
}

func BenchmarkSearch(b *testing.B) {
	kb := NewKnowledgeBase(faqs)
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		kb.Search(utterances[i%len(utterances)], 3)
		i++
	}
}

// BenchmarkTurn is the understanding work of one turn: backchannel check, intents, slots, sentiment. It reports the
// p50/p99/max latency of single turns.
func BenchmarkTurn(b *testing.B) {
	m := commonMatcher(b)
	ref := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	lat := make([]time.Duration, 0, 4096)
	cpu := make([]time.Duration, 0, 4096)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		u := utterances[i%len(utterances)]
		i++
		start, startCPU := time.Now(), threadCPU()
		if !IsBackchannel(u) {
			m.Match(u)
			ExtractAll(u, ref)
			Sentiment(u)
		}
		cpu = append(cpu, threadCPU()-startCPU)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	slices.Sort(cpu)
	if n := len(lat); n > 0 {
		b.ReportMetric(float64(lat[n/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[n*99/100].Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(cpu[n*99/100].Nanoseconds()), "p99-cpu-ns")
		b.ReportMetric(float64(cpu[n-1].Nanoseconds()), "max-cpu-ns")
	}
}

// BenchmarkTurnEach is BenchmarkTurn per utterance, to find the slowest kind of input.
func BenchmarkTurnEach(b *testing.B) {
	m := commonMatcher(b)
	ref := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i, u := range utterances {
		b.Run(strconv.Itoa(i), func(b *testing.B) {
			for b.Loop() {
				if !IsBackchannel(u) {
					m.Match(u)
					ExtractAll(u, ref)
					Sentiment(u)
				}
			}
		})
	}
}
