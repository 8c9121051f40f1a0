package esltest

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/esl"
)

func TestParseOriginate(t *testing.T) {
	cases := []struct {
		in       string
		vars     map[string]string
		endpoint string
		app      string
		bad      bool
	}{
		{in: "{origination_uuid=u1,originate_timeout=30}sofia/gateway/gw/1555 &park()",
			vars: map[string]string{"origination_uuid": "u1", "originate_timeout": "30"}, endpoint: "sofia/gateway/gw/1555", app: "&park()"},
		{in: `{tags=a\,b,name='Zhang San',q=it\'s}loopback/echo 9196 XML default`,
			vars: map[string]string{"tags": "a,b", "name": "Zhang San", "q": "it's"}, endpoint: "loopback/echo", app: "9196 XML default"},
		{in: "loopback/echo &echo()", vars: map[string]string{}, endpoint: "loopback/echo", app: "&echo()"},
		{in: "{a=b loopback/echo", bad: true},
		{in: "{novalue}loopback/echo", bad: true},
	}
	for _, tc := range cases {
		vars, ep, app, err := parseOriginate(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || ep != tc.endpoint || app != tc.app || len(vars) != len(tc.vars) {
			t.Errorf("%q: %v %q %q %v", tc.in, vars, ep, app, err)
			continue
		}
		for k, v := range tc.vars {
			if vars[k] != v {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, vars[k], v)
			}
		}
	}
}

func TestEncodeVarsParsesBack(t *testing.T) {
	in := map[string]string{"a": "x,y", "b": `back\slash`, "c": "it's a {b}", "origination_uuid": "u"}
	vars, ep, _, err := parseOriginate(esl.EncodeVars(in) + "loopback/echo &park()")
	if err != nil || ep != "loopback/echo" {
		t.Fatal(ep, err)
	}
	for k, v := range in {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
}

// TestWireProtocol speaks raw ESL to the fake: auth/request first, commands refused before auth, a wrong
// password answered with -ERR invalid and a disconnect.
func TestWireProtocol(t *testing.T) {
	s, err := New(Config{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dial := func() (net.Conn, *bufio.Reader) {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(nc)
		m, err := esl.ReadMessage(r)
		if err != nil || m.Type() != esl.TypeAuthRequest {
			t.Fatalf("first frame %+v %v", m, err)
		}
		return nc, r
	}
	nc, r := dial()
	_, _ = nc.Write([]byte("api status\n\n"))
	if m, _ := esl.ReadMessage(r); m == nil || !strings.HasPrefix(m.ReplyText(), "-ERR") {
		t.Fatalf("api before auth: %+v", m)
	}
	_, _ = nc.Write([]byte("auth wrong\n\n"))
	if m, _ := esl.ReadMessage(r); m == nil || m.ReplyText() != "-ERR invalid" {
		t.Fatalf("bad auth: %+v", m)
	}
	if m, _ := esl.ReadMessage(r); m == nil || m.Type() != esl.TypeDisconnectNotice {
		t.Fatalf("after bad auth: %+v", m)
	}
	if _, err := esl.ReadMessage(r); err == nil {
		t.Fatal("connection still open after a bad password")
	}
	nc.Close()

	nc, r = dial()
	defer nc.Close()
	_, _ = nc.Write([]byte("auth pw\n\nevent json CHANNEL_ANSWER\n\napi originate {origination_uuid=w1}loopback/echo &park()\n\n"))
	var got []string
	for len(got) < 4 {
		m, err := esl.ReadMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		s := m.Type() + " " + m.ReplyText() + strings.TrimSpace(string(m.Body))
		if m.Type() == esl.TypeEventJSON {
			ev, err := esl.ParseEvent(m)
			if err != nil {
				t.Fatal(err)
			}
			s = m.Type() + " " + ev.Name() + " " + ev.UniqueID()
		}
		got = append(got, s)
	}
	want := []string{"command/reply +OK accepted", "command/reply +OK event listener enabled json",
		"text/event-json CHANNEL_ANSWER w1", "api/response +OK w1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	_, _ = nc.Write([]byte("api uuid_audio_stream w1 start ws://127.0.0.1:1/x mono 16k\n\n"))
	if m, _ := esl.ReadMessage(r); m == nil || !strings.HasPrefix(string(m.Body), "-ERR") {
		t.Fatalf("stream to a dead URL: %+v", m)
	}
	for _, cmd := range []string{"uuid_broadcast w1 playback::/tmp/a.wav aleg", "uuid_break w1 all", "uuid_send_dtmf w1 12#"} {
		_, _ = nc.Write([]byte("api " + cmd + "\n\n"))
		if m, _ := esl.ReadMessage(r); m == nil || !strings.HasPrefix(string(m.Body), "+OK") {
			t.Fatalf("%s: %+v", cmd, m)
		}
	}
	_, _ = nc.Write([]byte("api uuid_kill w1 USER_BUSY\n\n"))
	if m, _ := esl.ReadMessage(r); m == nil || string(m.Body) != "+OK\n" {
		t.Fatalf("uuid_kill: %+v", m)
	}
	rec, _ := s.Call("w1")
	if rec.Cause != 17 || rec.HungUpBy != "app" || rec.Breaks != 1 || rec.DTMFReceived != "12#" ||
		len(rec.Broadcasts) != 1 || rec.Broadcasts[0] != "playback::/tmp/a.wav aleg" {
		t.Errorf("record %+v", rec)
	}
	path := filepath.Join(t.TempDir(), "w1.wav")
	if err := rec.Person.SaveWAV(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() < 44 {
		t.Fatalf("wav: %v", err)
	}
}

// TestSessionsPerSecond: like FreeSWITCH's sessions-per-second throttle (30 in vanilla), originates beyond it
// within a second fail with DESTINATION_OUT_OF_ORDER; a loopback call counts two sessions.
func TestSessionsPerSecond(t *testing.T) {
	s, err := New(Config{SessionsPerSecond: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var refused int
	for range 5 {
		if out := s.API("originate loopback/echo/outcall-test &park()"); strings.Contains(out, "DESTINATION_OUT_OF_ORDER") {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d of 5 loopback originates refused with 6 sessions a second, want 2", refused)
	}
}
