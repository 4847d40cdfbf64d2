package eventlog_test

import (
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/eventlog/eventlogtest"
)

// configs are the option sets the conformance suite runs with: the
// defaults, and small segments and index intervals so that the suite
// crosses segment boundaries and index entries.
var configs = []struct {
	name string
	opts eventlog.Options
}{
	{"default", eventlog.Options{}},
	{"sync=never/segment=4KiB/index=16", eventlog.Options{Sync: eventlog.SyncNever, SegmentSize: 4 << 10, IndexInterval: 16, MaxRecordSize: 6000}},
	{"sync=interval/segment=64KiB/index=7", eventlog.Options{Sync: eventlog.SyncInterval, SyncEvery: time.Millisecond, SegmentSize: 64 << 10, IndexInterval: 7}},
}

func TestConformance(t *testing.T) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			eventlogtest.Run(t, func(t *testing.T) eventlog.Log {
				l, err := eventlog.Open(t.TempDir(), c.opts)
				if err != nil {
					t.Fatalf("Open = %v; want nil", err)
				}
				return l
			})
			eventlogtest.RunDurable(t, func(t *testing.T, dir string) eventlog.Log {
				l, err := eventlog.Open(dir, c.opts)
				if err != nil {
					t.Fatalf("Open(%q) = %v; want nil", dir, err)
				}
				if r := l.Recovery(); r.Truncated {
					t.Fatalf("Open(%q) after a clean Close cut a tail: %+v", dir, r)
				}
				return l
			})
		})
	}
}
