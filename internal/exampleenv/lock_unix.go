//go:build unix

package exampleenv

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const lockWait = 20 * time.Second

// testLock serialises the examples' tests across packages (go test runs packages in parallel processes): each
// runs several real-time calls on the simulator, and two at once on a small machine starve its 20 ms clock. It waits
// at most lockWait, so a package's tests stay well under a minute even behind another example.
func testLock() (unlock func()) {
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
