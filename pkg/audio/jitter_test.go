package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

func pkt(v int16) []int16 {
	s := make([]int16, 160)
	for i := range s {
		s[i] = v
	}
	return s
}

// popAll pops n frames and returns their first sample values and statuses.
func popAll(j *JitterBuffer, n int) ([]int16, []JitterStatus, []JitterInfo) {
	var vals []int16
	var sts []JitterStatus
	var infos []JitterInfo
	buf := make([]int16, 160)
	for range n {
		out, info := j.Pop(buf)
		vals = append(vals, out[len(out)-1])
		sts = append(sts, info.Status)
		infos = append(infos, info)
	}
	return vals, sts, infos
}

func TestJitterReorder(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 3})
	order := []uint16{100, 102, 101, 104, 103, 105}
	for _, s := range order {
		if err := j.Push(s, uint32(s)*160, pkt(int16(s))); err != nil {
			t.Fatal(err)
		}
	}
	vals, sts, infos := popAll(j, 6)
	for i, v := range vals {
		if v != int16(100+i) || sts[i] != JitterFrame {
			t.Fatalf("frame %d = %d (%v), want %d", i, v, sts[i], 100+i)
		}
		if i > 0 && (infos[i].Seq != infos[i-1].Seq+1 || infos[i].TS != infos[i-1].TS+160) {
			t.Fatalf("frame %d info %+v after %+v", i, infos[i], infos[i-1])
		}
	}
	if st := j.Stats(); st.Reordered != 2 || st.Played != 6 || st.Late != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestJitterBuffersToDepth(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 3})
	j.Push(1, 160, pkt(1))
	j.Push(2, 320, pkt(2))
	if _, sts, _ := popAll(j, 1); sts[0] != JitterSilence {
		t.Fatalf("played before Depth: %v", sts[0])
	}
	j.Push(3, 480, pkt(3))
	if vals, sts, _ := popAll(j, 1); sts[0] != JitterFrame || vals[0] != 1 {
		t.Fatalf("after Depth: %v %v", vals, sts)
	}
}

func TestJitterWrap(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 2})
	seq := uint16(65533)
	ts := uint32(0xFFFFFFFF - 2*160 + 1) // wraps between the 2nd and 3rd packet
	var got []JitterInfo
	for i := range 8 {
		if err := j.Push(seq, ts, pkt(int16(i+1))); err != nil {
			t.Fatal(err)
		}
		seq++
		ts += 160
		if i >= 1 {
			_, info := j.Pop(nil)
			if info.Status != JitterFrame {
				t.Fatalf("pop %d: %v", i, info.Status)
			}
			got = append(got, info)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 || got[i].TS != got[i-1].TS+160 {
			t.Fatalf("not monotonic across wrap: %+v then %+v", got[i-1], got[i])
		}
	}
	if st := j.Stats(); st.Late != 0 || st.Resyncs != 0 {
		t.Fatalf("wrap misread as late/jump: %+v", st)
	}
}

func TestJitterLossConcealment(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 1, ConcealFrames: 4})
	j.Push(10, 1600, pkt(1000))
	j.Push(17, 1600+7*160, pkt(2000)) // 11-16 lost
	vals, sts, infos := popAll(j, 8)
	wantSt := []JitterStatus{JitterFrame, JitterConcealed, JitterConcealed, JitterConcealed, JitterConcealed,
		JitterSilence, JitterSilence, JitterFrame}
	wantV := []int16{1000, 1000, 666, 333, 0, 0, 0, 2000} // last sample of each frame: full repeat, then fade
	for i := range wantSt {
		if sts[i] != wantSt[i] || vals[i] != wantV[i] {
			t.Fatalf("frame %d: %v %d, want %v %d", i, sts[i], vals[i], wantSt[i], wantV[i])
		}
	}
	if infos[3].TS != infos[0].TS+3*160 || infos[7].TS != infos[0].TS+7*160 {
		t.Fatalf("timestamps %+v", infos)
	}
	if st := j.Stats(); st.Concealed != 4 || st.Silenced != 2 || st.Played != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestJitterLateAndDuplicate(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 1})
	j.Push(5, 800, pkt(5))
	j.Push(5, 800, pkt(5))
	popAll(j, 2) // plays 5, conceals 6
	j.Push(6, 960, pkt(6))
	j.Push(4, 640, pkt(4))
	st := j.Stats()
	if st.Duplicate != 1 || st.Late != 2 {
		t.Fatalf("stats %+v", st)
	}
	if err := j.Push(7, 1120, make([]int16, 161)); !errors.Is(err, ErrFormat) {
		t.Fatalf("oversized packet: %v", err)
	}
}

func TestJitterJumpResyncs(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 1, Window: 16})
	j.Push(100, 0, pkt(1))
	popAll(j, 1)
	j.Push(30000, 999, pkt(2)) // sender restarted far ahead
	vals, sts, _ := popAll(j, 1)
	if sts[0] != JitterFrame || vals[0] != 2 {
		t.Fatalf("after jump: %v %v", vals, sts)
	}
	j.Push(50, 0, pkt(3)) // and far behind
	vals, sts, _ = popAll(j, 1)
	if sts[0] != JitterFrame || vals[0] != 3 {
		t.Fatalf("after backward jump: %v %v", vals, sts)
	}
	if st := j.Stats(); st.Resyncs != 2 || st.Late != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestJitterUnderrunRebuffers(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Depth: 2, ConcealFrames: 2})
	j.Push(1, 160, pkt(1))
	j.Push(2, 320, pkt(2))
	popAll(j, 2)
	popAll(j, 10) // sender paused (DTX): conceal, then rebuffer
	j.Push(13, 13*160, pkt(13))
	j.Push(14, 14*160, pkt(14))
	vals, sts, _ := popAll(j, 2)
	if sts[0] != JitterFrame || vals[0] != 13 || vals[1] != 14 {
		t.Fatalf("after pause: %v %v; stats %+v", vals, sts, j.Stats())
	}
	if st := j.Stats(); st.Late != 0 {
		t.Fatalf("resumed packets counted late: %+v", st)
	}
}

func TestJitterAllocFree(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{})
	p := pkt(7)
	buf := make([]int16, 160)
	seq := uint16(0)
	if n := testing.AllocsPerRun(500, func() {
		j.Push(seq, uint32(seq)*160, p)
		buf, _ = j.Pop(buf)
		seq++
	}); n != 0 {
		t.Fatalf("%v allocs per packet", n)
	}
}

// FuzzJitterBuffer drives the buffer with arbitrary packet/pop sequences: it must never panic, always return a
// full frame, never output a sample louder than any input, and keep its counters consistent.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 0, 1, 10, 0, 2, 0, 0, 1, 20, 1, 1, 1})
	f.Add([]byte{0, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 5, 0, 0, 0, 0, 0, 0, 5, 1, 1, 1, 1, 1})
	f.Add([]byte{0, 0x80, 0, 0, 0, 0, 200, 0, 0, 1, 0, 0, 0, 200, 0, 0x80, 1, 0, 0, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		j := NewJitterBuffer(JitterConfig{FrameSamples: 8, Depth: 2, Window: 8, ConcealFrames: 3})
		var loudest int
		buf := make([]int16, 8)
		for len(data) > 0 {
			op := data[0]
			data = data[1:]
			if op%2 == 1 { // pop
				out, info := j.Pop(buf)
				if len(out) != 8 || info.Status < JitterFrame || info.Status > JitterSilence {
					t.Fatalf("pop gave %d samples, status %v", len(out), info.Status)
				}
				for _, v := range out {
					if a := abs(int(v)); a > loudest {
						t.Fatalf("output %d louder than any input (%d)", v, loudest)
					}
				}
				continue
			}
			if len(data) < 7 {
				return
			}
			seq := binary.BigEndian.Uint16(data)
			ts := binary.BigEndian.Uint32(data[2:])
			n := int(data[6] % 10)
			data = data[7:]
			p := make([]int16, n)
			for i := range p {
				p[i] = int16(seq) ^ int16(i)<<8
				loudest = max(loudest, abs(int(p[i])))
			}
			err := j.Push(seq, ts, p)
			if (err != nil) != (n > 8) {
				t.Fatalf("Push(%d samples) = %v", n, err)
			}
		}
		st := j.Stats()
		if st.Played+st.Late+st.Duplicate > st.Received {
			t.Fatalf("inconsistent stats %+v", st)
		}
		if j.Buffered() < 0 || j.Buffered() > len(j.slots) {
			t.Fatalf("buffered %d", j.Buffered())
		}
	})
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestJitterTalkSpurtAfterSilence: a PBX sends no packets while the far end is silent; RTP sequence numbers continue
// where they stopped and only the timestamp jumps. The first frames of the next talk spurt must be played, not
// dropped as late because concealment advanced the playout point during the silence.
func TestJitterTalkSpurtAfterSilence(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{})
	frame := func(v int16) []int16 {
		f := make([]int16, 160)
		for i := range f {
			f[i] = v
		}
		return f
	}
	seq, ts := uint16(100), uint32(8000)
	push := func(v int16) {
		if err := j.Push(seq, ts, frame(v)); err != nil {
			t.Fatal(err)
		}
		seq++
		ts += 160
	}
	var played []int16
	pop := func() {
		f, info := j.Pop(nil)
		if info.Status == JitterFrame {
			played = append(played, f[0])
		}
	}
	for i := 1; i <= 5; i++ { // spurt 1: frames 1..5
		push(int16(i))
		pop()
	}
	for i := 0; i < 30; i++ { // 600 ms of silence: no packets
		pop()
	}
	ts += 30 * 160
	for i := 11; i <= 15; i++ { // spurt 2: frames 11..15, sequence numbers continuing
		push(int16(i))
		pop()
	}
	for i := 0; i < 10; i++ {
		pop()
	}
	want := []int16{1, 2, 3, 4, 5, 11, 12, 13, 14, 15}
	if fmt.Sprint(played) != fmt.Sprint(want) {
		t.Fatalf("played %v, want %v (stats %+v)", played, want, j.Stats())
	}
	if st := j.Stats(); st.Late != 0 {
		t.Fatalf("%d packets dropped as late", st.Late)
	}
}

func TestJitterWaiting(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{FrameSamples: 4, Depth: 2})
	frame := []int16{1, 2, 3, 4}
	if j.Waiting() {
		t.Fatal("Waiting before playout started")
	}
	_ = j.Push(1, 0, frame)
	_ = j.Push(2, 4, frame)
	if j.Waiting() {
		t.Fatal("Waiting with frames buffered")
	}
	j.Pop(nil)
	j.Pop(nil)
	if !j.Waiting() {
		t.Fatal("not Waiting: playout running, next frame missing, nothing buffered")
	}
	_ = j.Push(4, 12, frame) // a later frame arrived: the missing one is lost, not late
	if j.Waiting() {
		t.Fatal("Waiting although a later frame is buffered")
	}
	_ = j.Push(3, 8, frame)
	if _, info := j.Pop(nil); info.Status != JitterFrame || j.Waiting() {
		t.Fatalf("pop %+v, waiting %v", info, j.Waiting())
	}
}
