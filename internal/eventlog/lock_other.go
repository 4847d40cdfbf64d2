//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package eventlog

import (
	"fmt"
	"os"
	"runtime"
)

// lockDir fails: the segment log relies on flock(2) to keep two processes
// from opening one log, and this platform has no implementation yet.
func lockDir(path string) (*os.File, error) {
	return nil, fmt.Errorf("eventlog: directory locking is not implemented on %s", runtime.GOOS)
}

func unlockDir(f *os.File) error { return f.Close() }
