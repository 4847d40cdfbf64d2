//go:build !linux

package eventlog

import "os"

// syncData flushes f to stable storage (fsync(2); F_FULLFSYNC on darwin).
func syncData(f *os.File) error { return f.Sync() }
