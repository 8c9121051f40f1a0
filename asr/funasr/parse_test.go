package funasr

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		raw        string
		start, end time.Duration
		ok         bool
	}{
		{"string form", `"[[100,200],[200,500]]"`, 100 * time.Millisecond, 500 * time.Millisecond, true},
		{"array form", `[[430,670],[1030,1130]]`, 430 * time.Millisecond, 1130 * time.Millisecond, true},
		{"empty string", `""`, 0, 0, false},
		{"absent", ``, 0, 0, false},
		{"garbage", `"[[1,"`, 0, 0, false},
		{"short pair", `[[1]]`, 0, 0, false},
		{"reversed", `[[500,600],[100,200]]`, 0, 0, false},
		{"negative", `[[-5,10]]`, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, e, ok := parseTimestamp(json.RawMessage(tc.raw))
			if ok != tc.ok || s != tc.start || e != tc.end {
				t.Errorf("parseTimestamp(%s) = %v, %v, %v", tc.raw, s, e, ok)
			}
		})
	}
}

// FuzzMessage feeds arbitrary server messages to the result decoder: it must never panic, and a span it accepts
// must be ordered.
func FuzzMessage(f *testing.F) {
	for _, seed := range []string{
		`{"mode":"2pass-online","wav_name":"a","text":"你好","is_final":false}`,
		`{"mode":"2pass-offline","wav_name":"a","text":"你好。","is_final":true,"timestamp":"[[100,200],[200,500]]"}`,
		`{"mode":"offline","text":"x","timestamp":[[1,2]],"stamp_sents":[{"text_seg":"正 是","start":430,"end":1130}]}`,
		`{"text":"ERROR. Real-time transcription service ONLY SUPPORT PCM stream.","is_final":true}`,
		`{"timestamp":"[[1e308,1e309]]"}`, `{"timestamp":{}}`, `[]`, `nul`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		if json.Unmarshal(b, &m) != nil {
			return
		}
		if s, e, ok := parseTimestamp(m.Timestamp); ok && e < s {
			t.Errorf("span %v-%v reversed", s, e)
		}
	})
}
