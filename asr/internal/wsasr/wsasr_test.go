package wsasr

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

var (
	errClosed = errors.New("closed")
	errConfig = errors.New("config")
)

// echoServer records what it receives: the opening message, the size of each audio message, and the end
// message, answering each text message with "ok:<text>"; then it closes normally.
func echoServer(t *testing.T, got chan<- string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary {
				got <- "audio:" + string(rune('0'+len(b)/320))
				continue
			}
			got <- "text:" + string(b)
			if err := c.Write(r.Context(), websocket.MessageText, append([]byte("ok:"), b...)); err != nil {
				return
			}
			if string(b) == "END" {
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func options(url string) Options {
	return Options{Provider: "test", URL: url, DialTimeout: time.Second, WriteTimeout: time.Second, Rate: 8000,
		Chunk: 640, End: []byte("END"), ErrClosed: errClosed, ErrConfig: errConfig,
		Transient: func(r *http.Response) bool { return r == nil }}
}

func TestStream(t *testing.T) {
	got := make(chan string, 16)
	srv := echoServer(t, got)
	s, err := Dial(t.Context(), options("ws"+strings.TrimPrefix(srv.URL, "http")), []byte("START"))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(func(msgs <-chan []byte, errc <-chan error) {
		for {
			select {
			case b := <-msgs:
				s.Emit(asr.Result{Text: string(b)})
			case <-errc:
				return
			}
		}
	})
	frame := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	for range 5 { // 5 frames of 320 bytes: two chunks of 640 sent now, the rest at Close
		if err := s.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); !errors.Is(err, errConfig) {
		t.Errorf("frame at another rate: %v", err)
	}
	if s.Pos() != 100*time.Millisecond || s.Sent() != 2 {
		t.Errorf("pos %v sent %d", s.Pos(), s.Sent())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(frame); !errors.Is(err, errClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	var texts []string
	for r := range s.Results() {
		texts = append(texts, r.Text)
	}
	if strings.Join(texts, ",") != "ok:START,ok:END" || !s.IsClosing() {
		t.Errorf("results %v", texts)
	}
	var wire []string
	for len(got) > 0 {
		wire = append(wire, <-got)
	}
	if strings.Join(wire, ",") != "text:START,audio:2,audio:2,audio:1,text:END" {
		t.Errorf("server saw %v", wire)
	}
}

func TestDialErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	_, err := Dial(context.Background(), options("ws"+strings.TrimPrefix(srv.URL, "http")), []byte("START"))
	var e *asr.Error
	if !errors.As(err, &e) || e.Provider != "test" || e.Op != "dial" || e.Transient {
		t.Fatalf("refused dial: %v", err)
	}
	srv.Close()
	_, err = Dial(context.Background(), options("ws"+strings.TrimPrefix(srv.URL, "http")), []byte("START"))
	if !errors.As(err, &e) || !e.Transient {
		t.Fatalf("dial to a closed port: %v", err)
	}
}
