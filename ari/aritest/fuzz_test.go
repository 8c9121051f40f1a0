package aritest

import (
	"net/http"
	"strings"
	"testing"
)

func FuzzParseRTP(f *testing.F) {
	f.Add(rtpPacket(0, 1, 160, make([]byte, 160)))
	f.Add([]byte{0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4, 9})
	f.Add([]byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 2})
	f.Add([]byte{0x8f, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, payload, ok := parseRTP(b)
		if !ok {
			return
		}
		if pt > 127 || len(payload) > len(b)-12 {
			t.Fatalf("pt %d payload %d of %d bytes", pt, len(payload), len(b))
		}
	})
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"Local/echo@outcall-test", "PJSIP/13800138000@trunk", "PJSIP/trunk/sip:123@host", "SIP/", "x", "Local/@", "DAHDI/g1/555"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := parseEndpoint(s)
		if err == nil && (ep.number == "" || ep.tech == "") {
			t.Fatalf("%q parsed to %+v without error", s, ep)
		}
		if err != nil && err.status != http.StatusBadRequest {
			t.Fatalf("%q: status %d", s, err.status)
		}
		_ = parseCallerID(s)
	})
}

func FuzzReadParams(f *testing.F) {
	f.Add("endpoint=Local/echo@outcall-test", `{"app":"bot","timeout":30,"variables":{"A":"1","B":2}}`)
	f.Add("", `{"variables":{"variables":{"X":"y"}}}`)
	f.Add("a=1", `{"media":["sound:a","sound:b"]}`)
	f.Add("", `{"x":{"nested":1}}`)
	f.Add("", `[1,2]`)
	f.Add("", `{"endpoint":`)
	f.Fuzz(func(t *testing.T, query, body string) {
		r, err := http.NewRequest("POST", "http://127.0.0.1/ari/channels?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		p, herr := readParams(r)
		if herr != nil {
			if herr.status != http.StatusBadRequest || herr.msg == "" {
				t.Fatalf("error %d %q", herr.status, herr.msg)
			}
			return
		}
		_, _ = p.intParam("timeout", 30)
	})
}
