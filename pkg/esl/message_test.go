package esl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		typ     string
		header  map[string]string
		body    string
		wantErr error
	}{
		{name: "auth request", in: "Content-Type: auth/request\n\n", typ: TypeAuthRequest},
		{name: "command reply ok", in: "Content-Type: command/reply\nReply-Text: +OK accepted\n\n", typ: TypeCommandReply,
			header: map[string]string{"Reply-Text": "+OK accepted"}},
		{name: "command reply err crlf", in: "Content-Type: command/reply\r\nReply-Text: -ERR invalid\r\n\r\n", typ: TypeCommandReply,
			header: map[string]string{"Reply-Text": "-ERR invalid"}},
		{name: "api response", in: "Content-Type: api/response\nContent-Length: 6\n\n+OK 1\n", typ: TypeAPIResponse, body: "+OK 1\n"},
		{name: "leading blank lines", in: "\n\nContent-Type: api/response\nContent-Length: 0\n\n", typ: TypeAPIResponse},
		{name: "log data", in: "Content-Type: log/data\nContent-Length: 5\nLog-Level: 7\n\nhello", typ: TypeLogData, body: "hello",
			header: map[string]string{"Log-Level": "7"}},
		{name: "disconnect notice", in: "Content-Type: text/disconnect-notice\nContent-Length: 3\n\nbye", typ: TypeDisconnectNotice, body: "bye"},
		{name: "rude rejection", in: "Content-Type: text/rude-rejection\nContent-Length: 14\n\nAccess Denied\n", typ: TypeRudeRejection, body: "Access Denied\n"},
		{name: "unknown type", in: "Content-Type: text/x-future\n\n", typ: "text/x-future"},
		{name: "value with colon", in: "Content-Type: command/reply\nReply-Text: +OK Job-UUID: 1-2\n\n", typ: TypeCommandReply,
			header: map[string]string{"Reply-Text": "+OK Job-UUID: 1-2"}},
		{name: "empty stream", in: "", wantErr: io.EOF},
		{name: "truncated headers", in: "Content-Type: api/response\n", wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", in: "Content-Type: api/response\nContent-Length: 10\n\nabc", wantErr: io.ErrUnexpectedEOF},
		{name: "bad length", in: "Content-Length: x\n\n", wantErr: ErrMalformed},
		{name: "negative length", in: "Content-Length: -1\n\n", wantErr: ErrMalformed},
		{name: "huge length", in: "Content-Length: 999999999999\n\n", wantErr: ErrTooLarge},
		{name: "no colon", in: "garbage line\n\n", wantErr: ErrMalformed},
		{name: "long line", in: strings.Repeat("a", MaxHeaderLine+10) + ": b\n\n", wantErr: ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadMessage(bufio.NewReaderSize(strings.NewReader(tc.in), 16))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Type() != tc.typ {
				t.Errorf("type %q, want %q", m.Type(), tc.typ)
			}
			for k, v := range tc.header {
				if m.Header[k] != v {
					t.Errorf("header %s = %q, want %q", k, m.Header[k], v)
				}
			}
			if string(m.Body) != tc.body {
				t.Errorf("body %q, want %q", m.Body, tc.body)
			}
		})
	}
}

func TestReadMessageSequence(t *testing.T) {
	in := "Content-Type: command/reply\nReply-Text: +OK\n\n" +
		"Content-Type: api/response\nContent-Length: 2\n\nhi" +
		"Content-Type: command/reply\nReply-Text: -ERR no\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	var got []string
	for {
		m, err := ReadMessage(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Type()+"|"+m.ReplyText()+"|"+string(m.Body))
	}
	want := "command/reply|+OK|,api/response||hi,command/reply|-ERR no|"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v", got)
	}
}

const plainJob = "Event-Name: BACKGROUND_JOB\nJob-UUID: 7f4d\nJob-Command: originate\n" +
	"Event-Date-Local: 2026-11-23%2022%3A00%3A00\nContent-Length: 14\n\n-ERR NO_ANSWER"

func TestParseEvent(t *testing.T) {
	cases := []struct {
		name   string
		typ    string
		body   string
		header map[string]string
		evBody string
		bad    bool
	}{
		{name: "plain with nested body", typ: TypeEventPlain, body: plainJob + "\n",
			header: map[string]string{"Event-Name": "BACKGROUND_JOB", "Job-UUID": "7f4d", "Event-Date-Local": "2026-11-23 22:00:00"},
			evBody: "-ERR NO_ANSWER"},
		{name: "plain no trailing blank", typ: TypeEventPlain, body: "Event-Name: DTMF\nDTMF-Digit: %23",
			header: map[string]string{"Event-Name": "DTMF", "DTMF-Digit": "#"}},
		{name: "plain bad escape kept raw", typ: TypeEventPlain, body: "Event-Name: X\nV: 100%\n\n", header: map[string]string{"V": "100%"}},
		{name: "plain short body", typ: TypeEventPlain, body: "Event-Name: X\nContent-Length: 50\n\nabc", bad: true},
		{name: "json", typ: TypeEventJSON, body: `{"Event-Name":"CHANNEL_ANSWER","Unique-ID":"u1","Content-Length":"2","_body":"ok","N":3}`,
			header: map[string]string{"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "u1", "N": "3"}, evBody: "ok"},
		{name: "json broken", typ: TypeEventJSON, body: `{"Event-Name":`, bad: true},
		{name: "xml", typ: TypeEventXML, body: "<event><headers><Event-Name>DTMF</Event-Name><DTMF-Digit>5</DTMF-Digit>" +
			"<Caller-ID-Name>A%20B</Caller-ID-Name></headers><body>x</body></event>",
			header: map[string]string{"Event-Name": "DTMF", "DTMF-Digit": "5", "Caller-ID-Name": "A B"}, evBody: "x"},
		{name: "xml broken", typ: TypeEventXML, body: "<event><headers>", bad: true},
		{name: "not an event", typ: TypeAPIResponse, body: "x", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := ParseEvent(&Message{Header: map[string]string{"Content-Type": tc.typ}, Body: []byte(tc.body)})
			if tc.bad {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				if ev.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, ev.Get(k), v)
				}
			}
			if ev.Body != tc.evBody {
				t.Errorf("body %q, want %q", ev.Body, tc.evBody)
			}
			if _, ok := ev.Header["Content-Length"]; ok {
				t.Error("nested Content-Length left in headers")
			}
		})
	}
}

func TestEventEncodeRoundTrip(t *testing.T) {
	ev := &Event{Header: map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "mod_audio_stream::connect",
		"Caller-ID-Name": "张三 & 李四 100%+", "Unique-ID": "a-b"}, Body: "line1\nline2\n"}
	for _, typ := range []string{TypeEventPlain, TypeEventJSON} {
		var body []byte
		if typ == TypeEventPlain {
			body = EncodePlain(ev)
		} else {
			body = EncodeJSON(ev)
		}
		got, err := ParseEvent(&Message{Header: map[string]string{"Content-Type": typ}, Body: body})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if got.Body != ev.Body || len(got.Header) != len(ev.Header) {
			t.Fatalf("%s: got %+v", typ, got)
		}
		for k, v := range ev.Header {
			if got.Header[k] != v {
				t.Errorf("%s: %s = %q, want %q", typ, k, got.Header[k], v)
			}
		}
	}
}

func TestErrorCause(t *testing.T) {
	for reply, want := range map[string]string{"NO_ANSWER": "no-answer", "USER_BUSY": "busy", "CALL_REJECTED": "rejected",
		"UNALLOCATED_NUMBER": "unallocated", "NORMAL_CIRCUIT_CONGESTION": "congestion", "GATEWAY_DOWN": "congestion",
		"SUBSCRIBER_ABSENT": "no-answer", "ORIGINATOR_CANCEL": "cancelled", "weird": "failed", "": "failed"} {
		e := &Error{Command: "originate", Reply: reply}
		if got := OutcomeOfCause(e.Cause()).String(); got != want {
			t.Errorf("%q → %s, want %s", reply, got, want)
		}
	}
	if CauseName(17) != "USER_BUSY" || CauseName(9999) != "NORMAL_CLEARING" {
		t.Error("CauseName")
	}
}

func TestEncodeCommandRejectsInjection(t *testing.T) {
	if _, err := encodeCommand("api status\n\napi shutdown", nil, nil); !errors.Is(err, ErrBadCommand) {
		t.Errorf("newline in command: %v", err)
	}
	if _, err := encodeCommand("sendmsg x", map[string]string{"a": "b\nc: d"}, nil); !errors.Is(err, ErrBadCommand) {
		t.Errorf("newline in header: %v", err)
	}
	b, err := encodeCommand("sendmsg u1", map[string]string{"call-command": "execute"}, []byte("hi"))
	if err != nil || string(b) != "sendmsg u1\ncall-command: execute\nContent-Length: 2\n\nhi" {
		t.Errorf("got %q, %v", b, err)
	}
}

// FuzzReadMessage feeds arbitrary bytes to the frame parser and the event decoders: they must return errors, never
// panic, and a parsed frame must survive re-encoding.
func FuzzReadMessage(f *testing.F) {
	seeds := []string{
		"Content-Type: auth/request\n\n",
		"Content-Type: command/reply\nReply-Text: +OK accepted\n\n",
		"Content-Type: api/response\nContent-Length: 3\n\n+OK",
		"Content-Type: text/event-plain\nContent-Length: " + itoa(len(plainJob)) + "\n\n" + plainJob,
		"Content-Type: text/event-json\nContent-Length: 28\n\n{\"Event-Name\":\"X\",\"_body\":1}",
		"Content-Type: text/event-xml\nContent-Length: 47\n\n<event><headers><A>b</A></headers></event>\n\n\n\n\n",
		"Content-Type: text/disconnect-notice\nContent-Length: 4\n\nbye\n",
		"Content-Type: text/rude-rejection\n\n",
		"Content-Length: -5\n\n",
		"a:b\r\n\r\n",
		"\n\n\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range 16 {
			m, err := ReadMessage(r)
			if err != nil {
				return
			}
			_, _ = ParseEvent(m)
			_, _ = parsePlain(m.Body)
			_, _ = parseJSON(m.Body)
			_, _ = parseXML(m.Body)
			again, err := ReadMessage(bufio.NewReader(bytes.NewReader(m.AppendTo(nil))))
			if err != nil {
				t.Fatalf("re-encoded frame does not parse: %v", err)
			}
			if !bytes.Equal(again.Body, m.Body) {
				t.Fatalf("body changed: %q → %q", m.Body, again.Body)
			}
			for k, v := range m.Header {
				if k != "Content-Length" && again.Header[k] != v {
					t.Fatalf("header %q changed: %q → %q", k, v, again.Header[k])
				}
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
