//go:build !linux

package recommend

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
