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
	b := in.getBatch()
	defer in.putBatch(b)
	b.out = b.out[:0]
	for i := range evs {
		b.out = event.Append(b.out, &evs[i])
	}
	charge := int64(len(b.out))
	switch in.admit(charge) {
	case admitStopped:
		return 0, 0, ErrStopped
	case admitBusy:
		return 0, 0, ErrBusy
	}
	defer in.done(charge)

	b.keys = b.keys[:0]
	for i := range evs {
		b.keys = append(b.keys, in.dd.keyString(evs[i].ID))
	}
	if cap(b.keep) < len(evs) {
		b.keep = make([]bool, len(evs))
	}
	b.keep = b.keep[:len(evs)]
	token, dups, conflict := in.dd.reserve(b.keys, b.keep, in.opts.Now())
	if conflict {
		return 0, 0, ErrConflict
	}
	in.m.duplicates.Add(float64(dups))
	b.out, b.recs = b.out[:0], b.recs[:0]
	for i := range evs {
		if b.keep[i] {
			start := len(b.out)
			b.out = event.Append(b.out, &evs[i])
			b.recs = append(b.recs, b.out[start:len(b.out):len(b.out)])
		}
	}
	if len(b.recs) == 0 {
		return 0, dups, nil
	}
	actx, cancel := context.WithTimeout(ctx, in.opts.AppendTimeout)
	_, err = in.log.Append(actx, b.recs)
	cancel()
	if err != nil {
		in.dd.release(b.keys, b.keep, token)
		return 0, dups, fmt.Errorf("ingest: append: %w", err)
	}
	in.dd.commit(b.keys, b.keep, token, in.opts.Now())
	in.m.accepted.Add(float64(len(b.recs)))
	in.m.batches.Inc()
	return len(b.recs), dups, nil
}
