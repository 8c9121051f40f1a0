package vosk

import (
	"testing"
)

// FuzzDecode feeds arbitrary server messages to the decoder: it must never panic, and what it accepts must be a
// sane Result.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"partial" : "hello"}`,
		`{"result" : [{"conf" : 1.0, "end" : 0.48, "start" : 0.12, "word" : "hello"}], "text" : "hello"}`,
		`{"text" : ""}`,
		`{"alternatives" : [{"confidence" : 0.9, "text" : "a"}]}`,
		`{"alternatives" : []}`,
		`{"result" : [{"conf" : -3, "end" : 1e300, "start" : 2}], "text" : "x"}`,
		`{"partial" : 5}`, `[]`, `{}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok, err := decode(b)
		if err != nil && ok {
			t.Fatal("ok with error")
		}
		if r.Confidence < 0 || r.Confidence > 1 || r.End < r.Start || r.Start < 0 {
			t.Errorf("insane result %+v", r)
		}
		if ok && r.Text == "" {
			t.Errorf("empty result reported")
		}
	})
}
