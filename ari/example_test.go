package ari_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/ari"
)

// Example dials a number into the Stasis application and waits for the answer. The subscription is made with a
// client-chosen channel id before Originate, so no event of the call can be missed.
func Example() {
	asterisk := fakeAsterisk() // in real use: cfg, err := ari.ConfigFromEnv()
	defer asterisk.Close()

	client, err := ari.New(ari.Config{URL: asterisk.URL, Username: "outcall", Password: "secret", App: "outcall"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	id := ari.NewID("ch")
	sub := client.Subscribe(id)
	defer sub.Close()
	if _, err := client.Originate(ctx, ari.OriginateParams{
		Endpoint:  "Local/echo@outcall-test",
		ChannelID: id,
		Timeout:   30 * time.Second,
	}); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range sub.Events() {
		switch e := ev.(type) {
		case *ari.Dial:
			fmt.Println("dial status:", e.Dialstatus)
		case *ari.StasisStart:
			fmt.Println("answered, state", e.Channel.State)
			return
		}
	}
	// Output:
	// dial status: ANSWER
	// answered, state Up
}

// fakeAsterisk answers POST /ari/channels like Asterisk does for an answered call: Dial ANSWER, then StasisStart.
func fakeAsterisk() *httptest.Server {
	conns := make(chan *websocket.Conn, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/events", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ari"}})
		if err != nil {
			return
		}
		conns <- c
		<-c.CloseRead(context.Background()).Done()
	})
	mux.HandleFunc("POST /ari/events/user/{name}", func(w http.ResponseWriter, r *http.Request) {
		// The client's delivery probe: the user event comes back on the events socket.
		c := <-conns
		_ = c.Write(context.Background(), websocket.MessageText,
			[]byte(`{"type":"ChannelUserevent","application":"outcall","eventname":"`+r.PathValue("name")+`","userevent":{}}`))
		conns <- c
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /ari/channels", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("channelId")
		ch := fmt.Sprintf(`{"id":%q,"name":"Local/echo@outcall-test-00000001;1","state":"Up"}`, id)
		fmt.Fprintf(w, `{"id":%q,"name":"Local/echo@outcall-test-00000001;1","state":"Down"}`, id)
		c := <-conns
		ctx := context.Background()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"Dial","application":"outcall","dialstatus":"ANSWER","peer":`+ch+`}`))
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"StasisStart","application":"outcall","args":[],"channel":`+ch+`}`))
		conns <- c
	})
	return httptest.NewServer(mux)
}
