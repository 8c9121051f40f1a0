package audiosocket_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/pkg/audiosocket"
)

// The server matches Asterisk's connection to the call by the UUID given as ExternalMedia's data parameter.
func ExampleServer_Accept() {
	srv, err := audiosocket.Listen(audiosocket.ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	id := audiosocket.NewUUID() // pass id.String() as ExternalMedia's data

	// Asterisk's side, played here by Dial.
	asterisk, err := audiosocket.Dial(ctx, srv.Addr().String(), id)
	if err != nil {
		panic(err)
	}
	defer asterisk.Close()
	_ = asterisk.WriteAudio(8000, make([]int16, 160))

	conn, err := srv.Accept(ctx, id)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	m, err := conn.ReadMessage()
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Kind, len(m.Payload), "bytes at", m.Kind.Rate(), "Hz")
	// Output:
	// slin8000 320 bytes at 8000 Hz
}
