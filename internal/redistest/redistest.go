// Package redistest starts a real redis-server for a test on a free 127.0.0.1 port and stops it when the test ends.
// StartCluster starts several in cluster mode, and StartReplica a replica of a server, for tests of Redis Cluster
// and of failover.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server owned by one test.
type Server struct {
	Addr  string // host:port on 127.0.0.1
	dir   string
	args  []string // extra redis-server arguments, kept for Restart
	cmd   *exec.Cmd
	done  chan struct{}  // closed once the process has exited and been waited for
	admin *redis.Client  // the cluster's own connection to a node, nil outside a cluster
	held  []net.Listener // the dead server's ports, kept from other processes between Kill and Restart or Stop
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a new go-redis client for the server, closed when the test ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server at once (SIGKILL), for tests of what happens when Redis dies. Until Restart or Stop its
// port (and cluster bus port) stay held by the test, accepting and closing connections as a dead node's address
// would refuse them: under `go test ./...` another package's redis-server could otherwise be started on the freed
// port, and a cluster client that still lists the dead node would read that stranger's slot map and find the
// campaign missing (the TestRedisFailoverMidCampaign flake).
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
	_, port, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(port)
	ports := []int{n}
	if strings.Contains(strings.Join(s.args, " "), "--cluster-enabled yes") {
		ports = append(ports, n+10000)
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // already taken in the instant since the kill: nothing to hold
		}
		s.held = append(s.held, l)
		go refuse(l)
	}
}

// refuse closes every connection l accepts, until l is closed.
func refuse(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_ = c.Close()
	}
}

// release gives back the ports Kill held.
func (s *Server) release() {
	for _, l := range s.held {
		_ = l.Close()
	}
	s.held = nil
}

// Start runs redis-server for tb. It fails the test when redis-server is not installed (make test installs it).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Launch(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// StartPersistent runs redis-server with an append-only file synced on every write, so that a Kill and Restart
// keep every acknowledged write: a Redis that was down and came back, not a new empty one.
func StartPersistent(tb testing.TB) *Server {
	tb.Helper()
	s, err := launchDir(tb.TempDir(), "--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Launch runs redis-server with its files in dir, for a TestMain (which has no testing.TB); Stop it when done.
func Launch(dir string) (*Server, error) { return launchDir(dir) }

// launchDir runs redis-server with its files in dir (created if missing) and extra arguments.
func launchDir(dir string, extra ...string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, args: extra}
		if lastErr = s.run(); lastErr == nil {
			return s, nil
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	return nil, fmt.Errorf("redistest: redis-server did not become ready: %v\n%s", lastErr, log)
}

// run starts redis-server on s.Addr and waits until it answers.
func (s *Server) run() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redistest: redis-server not found on PATH (run `make test`, which installs it): %w", err)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}, s.args...)
	s.cmd = exec.Command(bin, args...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	done := make(chan struct{})
	s.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(s.cmd)
	if err := s.waitReady(5 * time.Second); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// Restart starts the server again on the same port after Kill or Stop, and waits until it answers. A server from
// Start comes back empty (nothing is saved); one from StartPersistent with every acknowledged write.
func (s *Server) Restart() error {
	s.Stop()
	var err error
	// The port was ours a moment ago; another process may take it in between, which is reported, not hidden.
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.run(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("redistest: restart on %s: %w", s.Addr, err)
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
	s.release()
}

func (s *Server) waitReady(limit time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil {
			// The answer must come from our child: if it could not bind the port, another process's redis-server
			// there would answer the ping.
			if !strings.Contains(info, "process_id:"+strconv.Itoa(s.cmd.Process.Pid)+"\r\n") {
				return fmt.Errorf("%w: %s answers for another redis-server", errPortTaken, s.Addr)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ping %s: %w", s.Addr, err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("%w: on %s, before answering", errExited, s.Addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// errPortTaken: a redis-server other than ours answers on the port we chose.
var errPortTaken = errors.New("redistest: port taken")

// errExited: our redis-server ended before it answered (typically: it could not bind the port).
var errExited = errors.New("redistest: redis-server exited")

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
