package callee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

// validDigits are the DTMF keys a phone has.
const validDigits = "0123456789*#ABCD"

// String returns the action's name, e.g. "say".
func (a Action) String() string {
	switch a {
	case Say:
		return "say"
	case Press:
		return "press"
	case Silence:
		return "silence"
	case HangUp:
		return "hangup"
	case Echo:
		return "echo"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// String returns the trigger's name, e.g. "after-bot".
func (t Trigger) String() string {
	switch t {
	case AfterBot:
		return "after-bot"
	case At:
		return "at"
	case Now:
		return "now"
	}
	return fmt.Sprintf("trigger(%d)", int(t))
}

// String returns the answer's name, e.g. "no-answer".
func (a Answer) String() string {
	switch a {
	case Pickup:
		return "pickup"
	case Busy:
		return "busy"
	case NoAnswer:
		return "no-answer"
	case Congestion:
		return "congestion"
	case Reject:
		return "reject"
	case Unallocated:
		return "unallocated"
	}
	return fmt.Sprintf("answer(%d)", int(a))
}

// Validate reports the first problem that would stop the script from being played, wrapped around
// ErrInvalidScript. A Say step with only Text is valid here; rendering it needs a TTS (see Render).
func (s Script) Validate() error {
	if s.Answer < Pickup || s.Answer > Unallocated {
		return fmt.Errorf("%w: unknown answer %d", ErrInvalidScript, int(s.Answer))
	}
	if s.AnswerAfter < 0 {
		return fmt.Errorf("%w: negative AnswerAfter %v", ErrInvalidScript, s.AnswerAfter)
	}
	for i, st := range s.Steps {
		if err := st.validate(); err != nil {
			return fmt.Errorf("%w: step %d (%v): %s", ErrInvalidScript, i, st.Action, err.Error())
		}
	}
	return nil
}

func (st Step) validate() error {
	switch st.When {
	case AfterBot, Now:
	case At:
		if st.Offset < 0 {
			return fmt.Errorf("negative Offset %v", st.Offset)
		}
	default:
		return fmt.Errorf("unknown trigger %d", int(st.When))
	}
	switch st.Action {
	case Say:
		if len(st.Audio) == 0 && strings.TrimSpace(st.Text) == "" {
			return errors.New("no Audio and no Text")
		}
		if len(st.Audio) > 0 && st.AudioRate != 0 && (st.AudioRate < 4000 || st.AudioRate > 192000) {
			return fmt.Errorf("AudioRate %d out of range", st.AudioRate)
		}
	case Press:
		if st.Digits == "" {
			return errors.New("no Digits")
		}
		for _, r := range st.Digits {
			if !strings.ContainsRune(validDigits, r) {
				return fmt.Errorf("digit %q is not a DTMF key (want one of %s)", r, validDigits)
			}
		}
	case Silence:
		if st.Duration <= 0 {
			return fmt.Errorf("Duration %v must be positive", st.Duration)
		}
	case Echo:
		if st.Duration < 0 {
			return fmt.Errorf("negative Duration %v", st.Duration)
		}
	case HangUp:
	default:
		return fmt.Errorf("unknown action %d", int(st.Action))
	}
	return nil
}

// Render returns a copy of s in which every Say step carries Audio at rate: Text-only steps are rendered by syn,
// clips at another rate are resampled. Render once and share the result when many simulated calls use the same
// script: NewPerson then has nothing left to do.
func Render(ctx context.Context, s Script, syn tts.Synthesizer, rate int) (Script, error) {
	if err := s.Validate(); err != nil {
		return s, err
	}
	out := s
	out.Steps = append([]Step(nil), s.Steps...)
	for i := range out.Steps {
		st := &out.Steps[i]
		if st.Action != Say {
			continue
		}
		if len(st.Audio) > 0 {
			from := st.AudioRate
			if from == 0 {
				from = 8000
			}
			if from != rate {
				st.Audio, st.AudioRate = resampleClip(st.Audio, from, rate), rate
			}
			continue
		}
		if syn == nil {
			return s, fmt.Errorf("%w: step %d %q", ErrNoTTS, i, st.Text)
		}
		pcm, got, err := synthesize(ctx, syn, st.Text, rate)
		if err != nil {
			return s, fmt.Errorf("callee: render step %d %q: %w", i, st.Text, err)
		}
		if got != rate {
			pcm, got = resampleClip(pcm, got, rate), rate
		}
		st.Audio, st.AudioRate = pcm, got
	}
	return out, nil
}

func synthesize(ctx context.Context, syn tts.Synthesizer, text string, rate int) ([]int16, int, error) {
	src, err := syn.Synthesize(ctx, tts.Request{Text: text, Rate: rate})
	if err != nil {
		return nil, 0, err
	}
	got := src.Format().Rate
	var pcm []int16
	for {
		f, err := src.Read(ctx)
		if len(f.Samples) > 0 {
			if f.Rate != 0 {
				got = f.Rate
			}
			pcm = append(pcm, f.Samples...)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, 0, err
		}
	}
	if c, ok := src.(io.Closer); ok {
		_ = c.Close()
	}
	if got == 0 {
		got = rate
	}
	return pcm, got, nil
}

// resampleClip converts a whole clip between rates with pkg/audio's filter, compensating its delay so the clip
// keeps its timing; rates that filter does not take fall back to linear interpolation.
func resampleClip(s []int16, from, to int) []int16 {
	r, err := audio.NewResampler(from, to)
	if err != nil {
		return resample(s, from, to)
	}
	want := int(int64(len(s)) * int64(to) / int64(from))
	delayIn := int(int64(r.Delay()) * int64(from) / int64(time.Second))
	padded := make([]int16, len(s)+2*delayIn+from/50)
	copy(padded, s)
	out := r.Process(make([]int16, 0, r.OutLen(len(padded))), padded)
	skip := min(int(int64(r.Delay())*int64(to)/int64(time.Second)), len(out))
	out = out[skip:]
	if len(out) >= want {
		return out[:want]
	}
	return append(out, make([]int16, want-len(out))...)
}
