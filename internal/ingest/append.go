package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Errors of Append.
var (
	// ErrStopped is returned by Append once ingest has been stopped.
	ErrStopped = errors.New("ingest: stopped")
	// ErrBusy is returned by Append when too many batches are in flight.
	ErrBusy = errors.New("ingest: too many batches in flight")
	// ErrConflict is returned by Append when another batch is writing one
	// of the same event ids.
	ErrConflict = errors.New("ingest: an event id is being written by another batch")
)

// Append writes events made inside the process — the recommender's
// impressions and feedback — under the same rules as POST /v1/events:
// every event is validated first and a batch with an invalid event writes
// nothing (the error names it); ids already in the dedupe window are
// skipped and counted in dups; the call returns once the rest is durable.
// It counts against the same in-flight limits and fails with ErrStopped
// after Stop or Shutdown, so a drain waits for it.
func (in *Ingester) Append(ctx context.Context, evs []event.Event) (written, dups int, err error) {
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return 0, 0, fmt.Errorf("ingest: event %d (id %q): %w", i, evs[i].ID, err)
		}
	}
	if len(evs) == 0 {
		return 0, 0, nil
	}
	charge := int64(0)
	for i := range evs {
		charge += int64(len(evs[i].ID)) + 256 // an estimate: the events are already decoded
	}
	switch in.admit(charge) {
	case admitStopped:
		return 0, 0, ErrStopped
	case admitBusy:
		return 0, 0, ErrBusy
	}
	defer in.done(charge)
	b := in.getBatch()
	defer in.putBatch(b)
	actx, cancel := context.WithTimeout(ctx, in.opts.AppendTimeout)
	defer cancel()
	written, dups, _, err = in.write(actx, b, evs)
	return written, dups, err
}
