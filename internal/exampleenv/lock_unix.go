//go:build unix

package exampleenv

import (
	"os"
	"path/filepath"
	"syscall"
)

// testLock serialises the examples' tests across packages (go test runs packages in parallel processes): each
// runs several real-time calls on the simulator, and two at once on a small machine starve its 20 ms clock.
func testLock() (unlock func()) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "outcall-examples-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}
