package esl

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Client. Zero fields take the defaults noted beside them.
type Config struct {
	Addr           string         // host:port of FreeSWITCH's event socket; default: "127.0.0.1:8021"
	Password       string         // event socket password; default: "ClueCon" (FreeSWITCH's own default)
	DialTimeout    time.Duration  // TCP connect timeout; default: 5 s
	AuthTimeout    time.Duration  // wait for auth/request and the auth reply; default: 5 s
	CommandTimeout time.Duration  // wait for a command's reply when ctx has no deadline; default: 10 s
	ReconnectMin   time.Duration  // first reconnect delay, doubled per failure, ±25% jitter; default: 100 ms
	ReconnectMax   time.Duration  // largest reconnect delay; default: 10 s
	NoReconnect    bool           // report the loss and stay down instead of reconnecting; default: false
	EventBuffer    int            // events queued per Subscription before overflow; default: 1024
	Logger         zerolog.Logger // default: zerolog.Nop(); passwords are never logged
	Hooks          Hooks          // lifecycle callbacks; default: none
}

// Hooks are lifecycle callbacks. They run on the client's goroutines (OnEvent, OnMessage and OnOverflow on the
// read goroutine, in wire order) and must not block.
type Hooks struct {
	OnDisconnect func(err error)                  // the connection dropped; pending commands fail with ErrDisconnected
	OnReconnect  func(attempts int)               // a new connection is up and subscriptions are restored
	OnOverflow   func(sub string, dropped uint64) // a Subscription's buffer was full: an event was dropped (total so far)
	OnMessage    func(m *Message)                 // a frame of no known use: log/data, an unknown type, an unsolicited reply
	OnEvent      func(e *Event)                   // every event, on the read goroutine, before dispatch
}

func (c *Config) fill() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8021"
	}
	if c.Password == "" {
		c.Password = "ClueCon"
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 5 * time.Second
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 10 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 10 * time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 1024
	}
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: Addr %q: %v", ErrConfig, c.Addr, err)
	}
	return nil
}

// ConfigFromEnv reads FS_ESL_ADDR and FS_ESL_PASSWORD. ok is false when neither is set (use a simulator); setting
// only one of them, or an address that is not host:port, is an error.
func ConfigFromEnv() (cfg Config, ok bool, err error) {
	addr, hasAddr := os.LookupEnv("FS_ESL_ADDR")
	pw, hasPW := os.LookupEnv("FS_ESL_PASSWORD")
	switch {
	case !hasAddr && !hasPW:
		return Config{}, false, nil
	case !hasAddr || addr == "":
		return Config{}, false, fmt.Errorf("%w: FS_ESL_PASSWORD is set but FS_ESL_ADDR is not", ErrConfig)
	case !hasPW || pw == "":
		return Config{}, false, fmt.Errorf("%w: FS_ESL_ADDR is set but FS_ESL_PASSWORD is not", ErrConfig)
	}
	cfg = Config{Addr: addr, Password: pw}
	if err := cfg.validate(); err != nil {
		return Config{}, false, fmt.Errorf("FS_ESL_ADDR: %w", err)
	}
	return cfg, true, nil
}
