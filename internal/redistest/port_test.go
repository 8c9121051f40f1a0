package redistest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestKilledClusterNodeHoldsItsPorts: after Kill nobody else can listen on a cluster node's client or bus port
// (the failover test's flake: another package's redis-server took the dead master's port and a cluster client read
// that stranger's slot map), and Restart gets the port back.
func TestKilledClusterNodeHoldsItsPorts(t *testing.T) {
	cl := StartCluster(t, 1)
	s := cl.Masters[0]
	s.Kill()
	host, port, _ := net.SplitHostPort(s.Addr)
	n := 0
	for _, p := range []string{port, busPort(t, port)} {
		if l, err := net.Listen("tcp", net.JoinHostPort(host, p)); err == nil {
			l.Close()
			t.Errorf("port %s of the killed node was free for another process", p)
		} else {
			n++
		}
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart after Kill: %v", err)
	}
	t.Logf("%d ports held while the node was dead; restarted on %s", n, s.Addr)
}

func busPort(t *testing.T, port string) string {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	a.Port += 10000
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// TestRunRefusesAStrangersServer: a redis-server of ours that cannot bind its port (another one holds it) is not
// mistaken for ready because the other one answers the ping.
func TestRunRefusesAStrangersServer(t *testing.T) {
	other := Start(t)
	dir := filepath.Join(t.TempDir(), "ours")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: other.Addr, dir: dir}
	err := s.run()
	if err == nil {
		s.Stop()
		t.Fatal("run reported ready on a port another redis-server holds")
	}
	if !errors.Is(err, errPortTaken) && !errors.Is(err, errExited) {
		t.Fatalf("error %v, want errPortTaken or errExited", err)
	}
	t.Log(err)
}
