//go:build unix

package outboundtest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const lockWait = 20 * time.Second

// Lock makes a test that runs real-time calls on the simulator take its turn with the others of the machine, across
// packages (go test runs packages in parallel processes): two example campaigns at once on a small machine starve
// the simulator's 20 ms clock. It waits at most lockWait, so a package's tests stay well under a minute even behind
// another's. Call the returned function when done.
func Lock() (unlock func()) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "outcall-examples-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			return func() {}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}
