package driver

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audiosocket"
)

// TestMediaAudioSocketWire checks the AudioSocket media against a raw connection standing in for Asterisk:
// little-endian slin both ways, one message per 20 ms frame, and Read ends with ErrHungUp when Asterisk closes.
func TestMediaAudioSocketWire(t *testing.T) {
	d := newTestDriver(t, Config{Transport: TransportAudioSocket, Format: FormatSlin16})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id := audiosocket.NewUUID()
	asterisk, err := audiosocket.Dial(ctx, d.MediaAddr().String(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer asterisk.Close()
	conn, err := d.as.Accept(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMediaAudioSocket(d, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close(nil)

	// Asterisk → bot: a 16 kHz frame whose first sample is 0x0102, little-endian on the wire.
	payload := make([]byte, 640)
	payload[0], payload[1] = 0x02, 0x01
	for range 4 {
		if err := asterisk.WriteMessage(audiosocket.Message{Kind: audiosocket.KindSlin16, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	found := false
	for i := 0; i < 10 && !found; i++ {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Rate != 16000 || len(f.Samples) != 320 {
			t.Fatalf("frame: %d samples at %d Hz", len(f.Samples), f.Rate)
		}
		found = f.Samples[0] == 0x0102
	}
	if !found {
		t.Fatal("sample 0x0102 never read: byte order wrong")
	}

	// bot → Asterisk.
	f := audio.Frame{Rate: 16000, Samples: make([]int16, 320)}
	f.Samples[0] = 0x0304
	if err := m.Write(ctx, f); err != nil {
		t.Fatal(err)
	}
	_ = asterisk.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := asterisk.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if msg.Kind != audiosocket.KindSlin16 || len(msg.Payload) != 640 || binary.LittleEndian.Uint16(msg.Payload) != 0x0304 {
		t.Fatalf("asterisk got %s with %d bytes starting %x", msg.Kind, len(msg.Payload), msg.Payload[:2])
	}

	// Asterisk hangs up by closing the connection.
	asterisk.Close()
	for i := 0; ; i++ {
		if _, err := m.Read(ctx); err != nil {
			break
		}
		if i > 100 {
			t.Fatal("Read never ended after Asterisk closed the connection")
		}
	}
}
