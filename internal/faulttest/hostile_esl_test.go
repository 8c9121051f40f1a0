package faulttest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/esl"
)

// The hostile-ESL suite: a TCP server on 127.0.0.1 that speaks just enough of FreeSWITCH's event socket to let the
// client in, then sends truncated frames, oversized frames, endless headers or bytes at a crawl.

// eslServer accepts connections on 127.0.0.1 and runs serve on each until the test ends.
func eslServer(t *testing.T, serve func(nc net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				stop := make(chan struct{})
				defer close(stop)
				go func() { // end the hostile server's connection with the test
					select {
					case <-done:
					case <-stop:
					}
					nc.Close()
				}()
				serve(nc, bufio.NewReader(nc))
			}()
		}
	}()
	return ln.Addr().String()
}

// login plays FreeSWITCH's side of a successful login and of the client's first command (event plain
// BACKGROUND_JOB), then waits for the next command; it reports whether the connection is still usable.
func login(nc net.Conn, br *bufio.Reader) bool {
	if _, err := io.WriteString(nc, "Content-Type: auth/request\n\n"); err != nil {
		return false
	}
	for i := 0; i < 2; i++ { // auth, then the event subscription
		if !readCommand(br) {
			return false
		}
		if _, err := io.WriteString(nc, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"); err != nil {
			return false
		}
	}
	return readCommand(br) // the test's own command
}

// readCommand reads one client command up to its blank line.
func readCommand(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\n" {
			return true
		}
	}
}

// crawl writes s one byte every gap, forever (cycling), until the connection fails or hostileForever passes.
func crawl(nc net.Conn, s string, gap time.Duration) {
	end := time.Now().Add(hostileForever)
	for i := 0; time.Now().Before(end); i = (i + 1) % len(s) {
		if _, err := nc.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(gap) // the hostile server's pace, not the test's synchronisation
	}
}

func TestHostileESL(t *testing.T) {
	const timeout = 500 * time.Millisecond
	cases := []struct {
		name     string
		serve    func(nc net.Conn, br *bufio.Reader)
		dialErr  bool   // the failure shows in Dial, not in the API call
		want     error  // errors.Is target
		maxAlloc uint64 // bytes Dial plus the API call may allocate
	}{
		{name: "auth/request declaring a 64 MB body", dialErr: true, want: context.DeadlineExceeded, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				_, _ = io.WriteString(nc, "Content-Type: auth/request\nContent-Length: 67108864\n\nx")
				_, _ = io.Copy(io.Discard, br)
			}},
		{name: "auth/request declaring 2^40 bytes", dialErr: true, want: esl.ErrTooLarge, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				_, _ = io.WriteString(nc, "Content-Type: auth/request\nContent-Length: 1099511627776\n\n")
				_, _ = io.Copy(io.Discard, br)
			}},
		{name: "auth/request one byte every 50 ms", dialErr: true, want: context.DeadlineExceeded, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) { crawl(nc, "Content-Type: auth/request\n", 50*time.Millisecond) }},
		{name: "endless header lines", want: esl.ErrTooLarge, maxAlloc: 4 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					_, _ = io.WriteString(nc, "Content-Type: api/response\n")
					line := []byte("X-Padding: " + strings.Repeat("p", 60<<10) + "\n")
					for i := 0; i < 2000; i++ {
						if _, err := nc.Write(line); err != nil {
							return
						}
					}
				}
			}},
		{name: "one header line without end", want: esl.ErrTooLarge, maxAlloc: 2 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					chunk := []byte(strings.Repeat("h", 64<<10))
					_, _ = io.WriteString(nc, "Content-Type: api/response\nX-Long: ")
					for i := 0; i < 1024; i++ {
						if _, err := nc.Write(chunk); err != nil {
							return
						}
					}
				}
			}},
		{name: "reply declaring 64 MB, 10 bytes sent", want: context.DeadlineExceeded, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					_, _ = io.WriteString(nc, "Content-Type: api/response\nContent-Length: 67108864\n\n+OK 123456")
					_, _ = io.Copy(io.Discard, br)
				}
			}},
		{name: "reply truncated by the peer closing", want: io.ErrUnexpectedEOF, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					_, _ = io.WriteString(nc, "Content-Type: api/response\nContent-Length: 100\n\n+OK trunc")
				}
			}},
		{name: "reply headers truncated by the peer closing", want: io.ErrUnexpectedEOF, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					_, _ = io.WriteString(nc, "Content-Type: api/resp")
				}
			}},
		{name: "negative Content-Length", want: esl.ErrMalformed, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					_, _ = io.WriteString(nc, "Content-Type: api/response\nContent-Length: -5\n\n")
					_, _ = io.Copy(io.Discard, br)
				}
			}},
		{name: "reply one byte every 50 ms", want: context.DeadlineExceeded, maxAlloc: 1 << 20,
			serve: func(nc net.Conn, br *bufio.Reader) {
				if login(nc, br) {
					crawl(nc, "Content-Type: api/response\nContent-Length: 3\n\n+OK", 50*time.Millisecond)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			addr := eslServer(t, tc.serve)
			cfg := esl.Config{Addr: addr, DialTimeout: timeout, AuthTimeout: timeout, CommandTimeout: timeout,
				NoReconnect: true}
			var err error
			start := time.Now()
			alloc := allocated(func() {
				var c *esl.Client
				c, err = esl.Dial(context.Background(), cfg)
				if err != nil {
					return
				}
				defer c.Close()
				if tc.dialErr {
					err = errors.New("Dial succeeded")
					return
				}
				_, err = c.API(context.Background(), "status")
			})
			took := time.Since(start)
			t.Logf("error %q after %v, %.1f MB allocated", err, took.Round(time.Millisecond), float64(alloc)/(1<<20))
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v is not %v", err, tc.want)
			}
			if took > 2*timeout+5*time.Second {
				t.Errorf("took %v with timeouts of %v", took, timeout)
			}
			if alloc > tc.maxAlloc {
				t.Errorf("allocated %d bytes, more than %d", alloc, tc.maxAlloc)
			}
			waitGoroutines(t, base+3) // the server's accept loop and its connection's two goroutines may remain
		})
	}
}
