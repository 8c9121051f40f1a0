package audiosocket

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

func newServer(t *testing.T, cfg ServerConfig) *Server {
	t.Helper()
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServerAcceptBeforeAndAfterConnect(t *testing.T) {
	s := newServer(t, ServerConfig{})
	if !s.Addr().Addr().IsLoopback() {
		t.Fatalf("listening on %v", s.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Accept first, then Asterisk connects.
	early := NewUUID()
	got := make(chan *Conn, 1)
	go func() {
		c, err := s.Accept(ctx, early)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	time.Sleep(10 * time.Millisecond) // most often Accept waits first; if not, the connection waits for it: both are correct
	ast1, err := Dial(ctx, s.Addr().String(), early)
	if err != nil {
		t.Fatal(err)
	}
	defer ast1.Close()
	c1 := <-got
	if c1 == nil || c1.UUID() != early {
		t.Fatalf("accepted %v", c1)
	}
	defer c1.Close()

	// Asterisk connects first, then Accept.
	late := NewUUID()
	ast2, err := Dial(ctx, s.Addr().String(), late)
	if err != nil {
		t.Fatal(err)
	}
	defer ast2.Close()
	c2, err := s.Accept(ctx, late)
	if err != nil || c2.UUID() != late {
		t.Fatalf("Accept = %v, %v", c2, err)
	}
	defer c2.Close()

	// Audio both ways, little-endian on the wire.
	samples := []int16{1, -2, 0x1234, -32768}
	if err := ast2.WriteAudio(8000, samples); err != nil {
		t.Fatal(err)
	}
	m, err := c2.ReadMessage()
	if err != nil || m.Kind != KindSlin8 || len(m.Payload) != 8 {
		t.Fatalf("read %+v, %v", m, err)
	}
	if v := int16(binary.LittleEndian.Uint16(m.Payload[4:])); v != 0x1234 {
		t.Fatalf("sample 2 = %#x, want 0x1234 little-endian", v)
	}
	if err := c2.WriteAudio(16000, samples); err != nil {
		t.Fatal(err)
	}
	if m, err := ast2.ReadMessage(); err != nil || m.Kind != KindSlin16 || int16(binary.LittleEndian.Uint16(m.Payload[6:])) != -32768 {
		t.Fatalf("asterisk read %+v, %v", m, err)
	}
	if err := ast2.WriteMessage(Message{Kind: KindDTMF, Payload: []byte{'1'}}); err != nil {
		t.Fatal(err)
	}
	if m, err := c2.ReadMessage(); err != nil {
		t.Fatal(err)
	} else if d, ok := m.Digit(); !ok || d != '1' {
		t.Fatalf("digit %q", d)
	}
	if err := c2.Hangup(); err != nil {
		t.Fatal(err)
	}
	if m, err := ast2.ReadMessage(); err != nil || m.Kind != KindHangup {
		t.Fatalf("asterisk got %+v, %v; want hangup", m, err)
	}
}

func TestServerRejectsBadHandshake(t *testing.T) {
	s := newServer(t, ServerConfig{HandshakeTimeout: 200 * time.Millisecond})
	for _, first := range [][]byte{
		{0x10, 0, 2, 0, 0},    // audio before UUID
		{0x01, 0, 3, 1, 2, 3}, // short UUID
		{},                    // silence: handshake timeout
	} {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write(first)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%x: connection still open", first)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%x: server did not close the connection", first)
		}
		nc.Close()
	}
}

func TestServerUnclaimedConnectionClosed(t *testing.T) {
	s := newServer(t, ServerConfig{ClaimTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	id := NewUUID()
	c, err := Dial(ctx, s.Addr().String(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.ReadMessage(); err == nil {
		t.Fatal("unclaimed connection still open")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Accept(short, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Accept after the claim timeout: %v", err)
	}
}

func TestServerCloseEndsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Listen(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waiting := make(chan error, 1)
	go func() { _, err := s.Accept(ctx, NewUUID()); waiting <- err }()
	parked, err := Dial(ctx, s.Addr().String(), NewUUID()) // never claimed
	if err != nil {
		t.Fatal(err)
	}
	defer parked.Close()
	half, err := net.Dial("tcp", s.Addr().String()) // stuck in handshake
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	time.Sleep(20 * time.Millisecond) // the two connections reach the server; if not yet, Close still must refuse and end them
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiting Accept: %v", err)
	}
	if _, err := s.Accept(ctx, NewUUID()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	parked.Close()
	half.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriteAudioRejectsBadInput(t *testing.T) {
	s := newServer(t, ServerConfig{})
	c, err := Dial(context.Background(), s.Addr().String(), NewUUID())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteAudio(11025, make([]int16, 10)); !errors.Is(err, ErrRate) {
		t.Fatalf("rate 11025: %v", err)
	}
	if err := c.WriteAudio(8000, make([]int16, 40000)); !errors.Is(err, ErrPayloadSize) {
		t.Fatalf("oversize: %v", err)
	}
	if err := c.WriteMessage(Message{Kind: 0x42}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
}
