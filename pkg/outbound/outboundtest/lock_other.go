//go:build !unix

package outboundtest

// Lock makes a test take its turn with the other call-running tests (a no-op here).
func Lock() (unlock func()) { return func() {} }
