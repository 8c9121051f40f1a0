package esl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Content types FreeSWITCH sends on the event socket.
const (
	TypeAuthRequest      = "auth/request"
	TypeCommandReply     = "command/reply"
	TypeAPIResponse      = "api/response"
	TypeEventPlain       = "text/event-plain"
	TypeEventJSON        = "text/event-json"
	TypeEventXML         = "text/event-xml"
	TypeLogData          = "log/data"
	TypeDisconnectNotice = "text/disconnect-notice"
	TypeRudeRejection    = "text/rude-rejection"
)

// Parser limits: a frame past them is refused with ErrTooLarge rather than buffered without bound.
const (
	MaxHeaderLine = 64 << 10 // bytes in one header line
	MaxHeaders    = 1024     // header lines in one frame
	MaxHeaderSize = 1 << 20  // bytes of one frame's header lines together (an outbound connect's channel data fits)
	MaxBody       = 64 << 20 // bytes of Content-Length
)

// bodyChunk is the most a body's buffer grows by before its bytes arrive: a peer declaring MaxBody and sending
// nothing costs this much memory, not MaxBody.
const bodyChunk = 64 << 10

// Message is one event-socket frame: MIME-style headers, a blank line, and a body of Content-Length bytes.
//
//	Content-Type: api/response\n
//	Content-Length: 3\n
//	\n
//	+OK
type Message struct {
	Header map[string]string // header names as sent (FreeSWITCH's are case-sensitive)
	Body   []byte            // empty without Content-Length
}

// Type returns the Content-Type header.
func (m *Message) Type() string { return m.Header["Content-Type"] }

// ReplyText returns the Reply-Text header of a command/reply.
func (m *Message) ReplyText() string { return m.Header["Reply-Text"] }

// ReadMessage reads one frame. It skips blank lines between frames, returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF inside a frame, and ErrMalformed or ErrTooLarge (wrapped, with the offending value) when the
// frame breaks the format.
func ReadMessage(r *bufio.Reader) (*Message, error) {
	h, err := readHeadersMax(r, true, MaxHeaderSize)
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h}
	if cl, ok := h["Content-Length"]; ok {
		n, err := parseLength(cl)
		if err != nil {
			return nil, err
		}
		if m.Body, err = readBody(r, n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("esl: read body of %d bytes: %w", n, err)
		}
	}
	return m, nil
}

func parseLength(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: Content-Length %q", ErrMalformed, s)
	}
	if n > MaxBody {
		return 0, fmt.Errorf("%w: Content-Length %d > %d", ErrTooLarge, n, MaxBody)
	}
	return n, nil
}

// readBody reads n bytes, its buffer growing (doubling from bodyChunk) as they arrive.
func readBody(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, min(n, bodyChunk))
	for got := 0; ; {
		m, err := io.ReadFull(r, b[got:])
		if got += m; err != nil || got == n {
			return b, err
		}
		b = append(b, make([]byte, min(len(b), n-len(b)))...)
	}
}

// readHeaders reads header lines up to the blank line. skipLeading drops blank lines before the first header.
func readHeaders(r *bufio.Reader, skipLeading bool) (map[string]string, error) {
	return readHeadersMax(r, skipLeading, MaxBody)
}

// readHeadersMax is readHeaders refusing more than max bytes of header lines with ErrTooLarge.
func readHeadersMax(r *bufio.Reader, skipLeading bool, max int) (map[string]string, error) {
	h := make(map[string]string, 8)
	for n, size := 0, 0; ; {
		line, err := readLine(r)
		if size += len(line); err == nil && size > max {
			return nil, fmt.Errorf("%w: header lines over %d bytes", ErrTooLarge, max)
		}
		if err != nil {
			if err == io.EOF && (len(h) > 0 || line != "") {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if line == "" {
			if len(h) == 0 && skipLeading {
				continue
			}
			return h, nil
		}
		if n++; n > MaxHeaders {
			return nil, fmt.Errorf("%w: more than %d headers", ErrTooLarge, MaxHeaders)
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: header line %q", ErrMalformed, clip(line))
		}
		h[k] = strings.TrimLeft(v, " \t")
	}
}

// readLine returns one line without its \n or \r\n, bounded by MaxHeaderLine.
func readLine(r *bufio.Reader) (string, error) {
	frag, err := r.ReadSlice('\n')
	if err == nil { // the common case: the whole line is in the buffer, one allocation for the string
		return string(bytes.TrimRight(frag[:len(frag)-1], "\r")), nil
	}
	if len(frag) > MaxHeaderLine {
		return "", fmt.Errorf("%w: header line longer than %d bytes", ErrTooLarge, MaxHeaderLine)
	}
	buf := append([]byte(nil), frag...)
	if err != bufio.ErrBufferFull {
		return string(buf), err
	}
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > MaxHeaderLine {
			return "", fmt.Errorf("%w: header line longer than %d bytes", ErrTooLarge, MaxHeaderLine)
		}
		buf = append(buf, frag...)
		switch err {
		case nil:
			buf = bytes.TrimRight(buf[:len(buf)-1], "\r")
			return string(buf), nil
		case bufio.ErrBufferFull:
			continue
		default:
			return string(buf), err
		}
	}
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// AppendTo appends the frame in wire form, with Content-Length set from Body (omitted when Body is empty and the
// header was absent),
// headers sorted for a stable encoding.
func (m *Message) AppendTo(b []byte) []byte {
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		if k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, m.Header[k]...)
		b = append(b, '\n')
	}
	if _, had := m.Header["Content-Length"]; had || len(m.Body) > 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(m.Body)), 10)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, m.Body...)
}
