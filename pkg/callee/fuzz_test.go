package callee

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// FuzzPerson builds scripts from arbitrary bytes: NewPerson must reject the invalid ones with ErrInvalidScript
// and play the valid ones for 4 s of ticks without panicking, keeping its records consistent.
func FuzzPerson(f *testing.F) {
	f.Add([]byte{1, 0, 0, 5, 2, 2, 1, 3, 4, 2, 0, 0}, byte(3))
	f.Add([]byte{5, 2, 0, 0, 3, 1, 10, 20}, byte(0))
	f.Add([]byte{2, 0, 0, 0, 9, 9, 9, 9}, byte(255))
	f.Add([]byte{}, byte(1))
	f.Fuzz(func(t *testing.T, b []byte, heardMask byte) {
		var s Script
		for len(b) >= 4 {
			st := Step{Action: Action(b[0] % 7), When: Trigger(b[1] % 4), Offset: time.Duration(int8(b[2])) * 20 * time.Millisecond,
				Duration: time.Duration(int8(b[3])) * 20 * time.Millisecond}
			switch st.Action {
			case Say:
				st.Audio = make([]int16, int(b[3])*8)
				for i := range st.Audio {
					st.Audio[i] = int16(i * int(b[2]))
				}
			case Press:
				st.Digits = string([]byte{"0123456789*#ABCDx"[b[3]%17]})
			}
			s.Steps = append(s.Steps, st)
			b = b[4:]
		}
		s.HangupAfterSteps = heardMask&1 == 1
		p, err := NewPerson(context.Background(), s, Config{Patience: time.Second})
		if err != nil {
			if !errors.Is(err, ErrInvalidScript) {
				t.Fatalf("NewPerson: %v, want ErrInvalidScript", err)
			}
			return
		}
		voice := &audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
		for i := range voice.Samples {
			voice.Samples[i] = int16(3000 * (i%8 - 4))
		}
		hungUp := false
		for i := range 200 {
			var heard *audio.Frame
			if heardMask>>(i%8)&1 == 1 {
				heard = voice
			}
			out, sig := p.Tick(time.Duration(i)*audio.FrameDuration, heard)
			if hungUp && (out != nil || len(sig) != 0) {
				t.Fatal("activity after hang-up")
			}
			if out != nil && len(out.Samples) != 160 {
				t.Fatalf("frame of %d samples", len(out.Samples))
			}
			for _, x := range sig {
				if x.Kind == SignalHangup {
					hungUp = true
				}
			}
		}
		for _, u := range p.Transcript() {
			if u.End != 0 && u.End < u.Start {
				t.Fatalf("utterance ends before it starts: %+v", u)
			}
		}
	})
}
