package eventlog

import (
	"fmt"
	"time"
)

// SyncPolicy says when the segment log fsyncs appended data. The zero value
// is SyncAlways. See the package documentation for what each policy
// guarantees across a process crash and a machine crash.
type SyncPolicy int

const (
	// SyncAlways fsyncs every batch before Append returns and before
	// readers can see it. Acknowledged batches survive a machine crash.
	SyncAlways SyncPolicy = iota
	// SyncInterval returns from Append after write(2) and fsyncs at most
	// every Options.SyncEvery. Acknowledged batches survive a process
	// crash; a machine crash may lose the last SyncEvery of appends.
	SyncInterval
	// SyncNever returns from Append after write(2) and fsyncs only when a
	// segment is sealed, after recovery in Open, and in Close.
	SyncNever
)

// String returns the policy's name as used in benchmark names and configs:
// "always", "interval" or "never".
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// Defaults used for zero Options fields.
const (
	DefaultSegmentSize   = 64 << 20 // bytes
	DefaultMaxRecordSize = 1 << 20  // bytes
	DefaultMaxBatchSize  = 64 << 20 // bytes of encoded batch
	DefaultSyncEvery     = 100 * time.Millisecond
	DefaultIndexInterval = 4096 // records

	// maxRecordSizeLimit and maxBatchSizeLimit keep lengths within the
	// uint32 fields of the format with room for framing.
	maxRecordSizeLimit = 1 << 30
	maxBatchSizeLimit  = 1 << 31
)

// Options configures Open. The zero value means the defaults.
type Options struct {
	// Sync is the fsync policy; the zero value is SyncAlways.
	Sync SyncPolicy
	// SyncEvery is the longest time between fsyncs with SyncInterval.
	// Zero means DefaultSyncEvery; ignored by the other policies.
	SyncEvery time.Duration
	// SegmentSize is the size at which a segment is rolled. A batch never
	// spans segments, so a segment may exceed it by one batch. Zero means
	// DefaultSegmentSize.
	SegmentSize int64
	// MaxRecordSize is the largest record Append accepts (ErrTooLarge
	// beyond it). Zero means DefaultMaxRecordSize; at most 1 GiB.
	MaxRecordSize int
	// MaxBatchSize is the largest encoded batch (records plus 8 bytes of
	// framing per record plus a 32-byte header) Append accepts
	// (ErrTooLarge beyond it). Zero means DefaultMaxBatchSize; at most
	// 2 GiB.
	MaxBatchSize int
	// IndexInterval is the number of records between entries of the
	// in-memory sparse index NewReader seeks with. Zero means
	// DefaultIndexInterval.
	IndexInterval int
}

// withDefaults returns o with zero fields set to their defaults, or an
// error naming the first invalid field.
func (o Options) withDefaults() (Options, error) {
	switch o.Sync {
	case SyncAlways, SyncInterval, SyncNever:
	default:
		return o, fmt.Errorf("eventlog: Options.Sync: unknown policy %d", int(o.Sync))
	}
	if o.SyncEvery < 0 {
		return o, fmt.Errorf("eventlog: Options.SyncEvery: %v is negative", o.SyncEvery)
	}
	if o.SyncEvery == 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.SegmentSize < 0 {
		return o, fmt.Errorf("eventlog: Options.SegmentSize: %d is negative", o.SegmentSize)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxRecordSize < 0 || o.MaxRecordSize > maxRecordSizeLimit {
		return o, fmt.Errorf("eventlog: Options.MaxRecordSize: %d is outside [0, %d]", o.MaxRecordSize, maxRecordSizeLimit)
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.MaxBatchSize < 0 || o.MaxBatchSize > maxBatchSizeLimit {
		return o, fmt.Errorf("eventlog: Options.MaxBatchSize: %d is outside [0, %d]", o.MaxBatchSize, maxBatchSizeLimit)
	}
	if o.MaxBatchSize == 0 {
		o.MaxBatchSize = DefaultMaxBatchSize
	}
	if min := batchHeaderSize + recordHeaderSize + o.MaxRecordSize; o.MaxBatchSize < min {
		return o, fmt.Errorf("eventlog: Options.MaxBatchSize: %d cannot hold one record of MaxRecordSize %d (need ≥ %d)", o.MaxBatchSize, o.MaxRecordSize, min)
	}
	if o.IndexInterval < 0 {
		return o, fmt.Errorf("eventlog: Options.IndexInterval: %d is negative", o.IndexInterval)
	}
	if o.IndexInterval == 0 {
		o.IndexInterval = DefaultIndexInterval
	}
	return o, nil
}
