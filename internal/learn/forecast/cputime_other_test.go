//go:build !unix

package forecast

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
