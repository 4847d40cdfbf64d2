// Package kafka consumes a shop's existing Kafka topic of JSON events into
// Perpetua's event log: each record's JSON value is mapped to a Perpetua
// event by a declarative Mapping, validated by package event, encoded
// canonically (event.Append, like the HTTP intake) and appended to the log.
// It uses franz-go (kgo) in a consumer group.
//
// Invariants:
//
//   - Kafka offsets are committed only after the records' events are
//     durable in the log (Append returned nil), and only up to them. The
//     group's rebalances are held off between a poll and its commit
//     (kgo.BlockRebalanceOnPoll), so a partition never moves to another
//     member with appended but uncommitted records.
//   - After a crash between an Append and its commit, the records are
//     delivered again. Events whose id is among the log's last
//     Config.DedupeWindow records (rebuilt from the log's tail when Run
//     starts) are dropped and counted as duplicates, so a restart adds no
//     duplicate as long as event ids are stable per record (a source id,
//     or "$offset_id") and the window covers one poll plus whatever other
//     writers appended meanwhile.
//   - Each poll is one Append: all of its valid new events or none.
//   - Invalid records (not JSON, a mapping that fails, an event that
//     fails validation) are, by Config.OnInvalid, either skipped — counted
//     in Stats.Invalid, reported to Options.OnInvalid, and committed past
//     (there is no dead-letter topic: the record stays in Kafka at the
//     reported partition and offset) — or stop Run with a *RecordError
//     before anything of that poll is appended or committed, so a restart
//     with a fixed mapping resumes at it.
//
// Testing: no Kafka broker can run in this project's CI, so the tests use
// franz-go's in-process fake cluster (kfake), which speaks the Kafka
// protocol on a loopback port; the client code is the one used against a
// real cluster.
package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/ingest"
)

// Log is the part of the event log a Source needs; every eventlog.Log
// implements it.
type Log interface {
	ingest.Appender
	ingest.TailReader
}

var _ Log = eventlog.Log(nil)

// Defaults for zero Config fields.
const (
	DefaultMaxPollRecords = 1000
	DefaultDedupeWindow   = 100_000
	DefaultCommitTimeout  = 10 * time.Second
)

// Config configures a Source; it is typically loaded from JSON
// (ParseConfig). The zero value of each optional field means its default.
type Config struct {
	// Brokers are the seed brokers ("host:9092"). Required.
	Brokers []string `json:"brokers"`
	// Topics are consumed. Required.
	Topics []string `json:"topics"`
	// Group is the consumer group whose committed offsets say where to
	// resume. Required.
	Group string `json:"group"`
	// StartAt is where a group without committed offsets starts:
	// "earliest" (default) or "latest".
	StartAt string `json:"start_at,omitempty"`
	// Mapping builds events from records. Required.
	Mapping Mapping `json:"mapping"`
	// OnInvalid is "skip" (default) or "stop"; see the package
	// documentation.
	OnInvalid string `json:"on_invalid,omitempty"`
	// MaxPollRecords bounds the records of one poll, hence of one
	// Append. Zero means DefaultMaxPollRecords.
	MaxPollRecords int `json:"max_poll_records,omitempty"`
	// DedupeWindow is how many of the log's last records are checked for
	// repeated event ids. Zero means DefaultDedupeWindow; negative turns
	// deduplication off.
	DedupeWindow int `json:"dedupe_window,omitempty"`
}

// ParseConfig decodes a JSON Config strictly (unknown keys are errors)
// and validates it.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("kafka: config: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return c, errors.New("kafka: config: data after the JSON object")
	}
	return c, c.Validate()
}

// Validate checks c; errors name the key.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c *Config) compile() (*mapper, error) {
	switch {
	case len(c.Brokers) == 0:
		return nil, errors.New("kafka: config: brokers: empty; want at least one host:port")
	case len(c.Topics) == 0:
		return nil, errors.New("kafka: config: topics: empty")
	case c.Group == "":
		return nil, errors.New("kafka: config: group: empty; offsets are committed to a consumer group")
	case c.StartAt != "" && c.StartAt != "earliest" && c.StartAt != "latest":
		return nil, fmt.Errorf("kafka: config: start_at %q: want earliest or latest", c.StartAt)
	case c.OnInvalid != "" && c.OnInvalid != "skip" && c.OnInvalid != "stop":
		return nil, fmt.Errorf("kafka: config: on_invalid %q: want skip or stop", c.OnInvalid)
	case c.MaxPollRecords < 0:
		return nil, fmt.Errorf("kafka: config: max_poll_records %d must not be negative", c.MaxPollRecords)
	}
	for i, b := range c.Brokers {
		if b == "" {
			return nil, fmt.Errorf("kafka: config: brokers[%d]: empty", i)
		}
	}
	for i, t := range c.Topics {
		if t == "" {
			return nil, fmt.Errorf("kafka: config: topics[%d]: empty", i)
		}
	}
	m, err := compile(c.Mapping)
	if err != nil {
		return nil, fmt.Errorf("kafka: config: %v", err)
	}
	return m, nil
}

// Options are the Go-only settings of a Source.
type Options struct {
	// ClientOptions are added to the kgo client's (TLS, SASL, …).
	ClientOptions []kgo.Opt
	// OnInvalid, if set, is called (from Run's goroutine) for each
	// skipped record, e.g. to log it.
	OnInvalid func(*RecordError)
}

// RecordError is an invalid record: where it is and what is wrong. Err is
// MappingErrors or the event package's event.FieldErrors.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("kafka: record %s/%d@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Stats are a Source's counters since New.
type Stats struct {
	Records    uint64 // records polled
	Appended   uint64 // events appended to the log
	Duplicates uint64 // events dropped as already in the log
	Invalid    uint64 // invalid records skipped
	Commits    uint64 // offset commits
}

// Source consumes Kafka topics into the log. Run it once at a time.
type Source struct {
	cfg    Config
	opts   Options
	log    Log
	mapper *mapper
	seen   *window

	records, appended, duplicates, invalid, commits atomic.Uint64
	running                                         atomic.Bool
}

// New checks cfg and returns a Source appending to log.
func New(cfg Config, log Log, opts Options) (*Source, error) {
	m, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	return &Source{cfg: cfg, opts: opts, log: log, mapper: m}, nil
}

// Stats returns the counters; safe to call concurrently with Run.
func (s *Source) Stats() Stats {
	return Stats{
		Records:    s.records.Load(),
		Appended:   s.appended.Load(),
		Duplicates: s.duplicates.Load(),
		Invalid:    s.invalid.Load(),
		Commits:    s.commits.Load(),
	}
}

// Run consumes until ctx is done (returning nil) or a failure: the
// broker connection's fatal errors, an Append or commit failure, or an
// invalid record with on_invalid "stop". Nothing is committed past what
// was appended. The kgo client, and its goroutines, live only inside
// Run; Run leaves the group before returning. Run again (a new Source is
// not needed) to resume.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("kafka: Run is already running")
	}
	defer s.running.Store(false)

	if err := s.rebuild(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	start := kgo.NewOffset().AtStart()
	if s.cfg.StartAt == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topics...),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
	}, s.opts.ClientOptions...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: client: %v", err)
	}
	defer cl.Close() // leaves the group

	var (
		obj    []byte
		batch  [][]byte
		ids    []string
		buf    []byte
		inPoll = make(map[string]struct{}) // ids of this poll's batch
	)
	for {
		fetches := cl.PollRecords(ctx, s.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		if fetches.IsClientClosed() {
			return errors.New("kafka: client closed")
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("kafka: fetching %s/%d: %v", topic, p, err)
			}
		})
		if ferr != nil {
			cl.AllowRebalance()
			return ferr
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		s.records.Add(uint64(len(recs)))

		batch, ids, buf = batch[:0], ids[:0], buf[:0]
		clear(inPoll)
		var dups, bad uint64
		var badErrs []*RecordError
		ends := make([]int, 0, len(recs))
		for _, r := range recs {
			meta := Meta{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Timestamp: r.Timestamp}
			var ev event.Event
			var err error
			obj, err = s.mapper.apply(obj[:0], r.Value, &meta)
			if err == nil {
				ev, err = event.Decode(obj)
			}
			if err != nil {
				re := &RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: err}
				if s.cfg.OnInvalid == "stop" {
					cl.AllowRebalance()
					return re
				}
				bad++
				badErrs = append(badErrs, re)
				continue
			}
			if _, ok := inPoll[ev.ID]; ok || s.seen.has(ev.ID) {
				dups++
				continue
			}
			inPoll[ev.ID] = struct{}{}
			buf = event.Append(buf, &ev)
			ends = append(ends, len(buf))
			ids = append(ids, ev.ID)
		}
		prev := 0
		for _, e := range ends {
			batch = append(batch, buf[prev:e])
			prev = e
		}
		if len(batch) > 0 {
			if _, err := s.log.Append(ctx, batch); err != nil {
				cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil // may or may not be written: the restart deduplicates
				}
				return fmt.Errorf("kafka: appending %d events to the log: %w", len(batch), err)
			}
		}
		for _, id := range ids {
			s.seen.add(id)
		}
		s.appended.Add(uint64(len(batch)))
		s.duplicates.Add(dups)
		s.invalid.Add(bad)
		if s.opts.OnInvalid != nil {
			for _, re := range badErrs {
				s.opts.OnInvalid(re)
			}
		}
		// The events are durable: commit even if ctx is done meanwhile.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultCommitTimeout)
		err := cl.CommitRecords(cctx, recs...)
		cancel()
		cl.AllowRebalance()
		if err != nil {
			return fmt.Errorf("kafka: committing offsets after appending: %v", err)
		}
		s.commits.Add(1)
	}
}

// rebuild loads the ids of the log's last DedupeWindow records.
func (s *Source) rebuild(ctx context.Context) error {
	if s.cfg.DedupeWindow < 0 {
		s.seen = nil
		return nil
	}
	s.seen = newWindow(s.cfg.DedupeWindow)
	end := s.log.End()
	from := uint64(0)
	if end > uint64(s.cfg.DedupeWindow) {
		from = end - uint64(s.cfg.DedupeWindow)
	}
	r, err := s.log.NewReader(from)
	if err != nil {
		return fmt.Errorf("kafka: reading the log's tail for deduplication: %w", err)
	}
	defer r.Close()
	for off := from; off < end; off++ {
		rec, err := r.Next(ctx)
		if err != nil {
			return fmt.Errorf("kafka: reading the log's tail for deduplication at %d: %w", off, err)
		}
		if ev, err := event.Decode(rec.Data); err == nil {
			s.seen.add(ev.ID)
		}
		// Records that are not events (written by someone else) have no id to remember.
	}
	return nil
}

// window remembers the last n ids. A nil window remembers nothing.
type window struct {
	max  int
	ids  []string       // ring of the last max ids once full
	next int            // oldest entry of the full ring
	set  map[string]int // id → occurrences in ids
}

func newWindow(n int) *window {
	return &window{max: n, set: make(map[string]int)}
}

func (w *window) has(id string) bool {
	if w == nil {
		return false
	}
	return w.set[id] > 0
}

func (w *window) add(id string) {
	if w == nil {
		return
	}
	if w.max == 0 {
		return
	}
	if len(w.ids) < w.max {
		w.ids = append(w.ids, id)
	} else {
		old := w.ids[w.next]
		if w.set[old]--; w.set[old] <= 0 {
			delete(w.set, old)
		}
		w.ids[w.next] = id
		w.next = (w.next + 1) % len(w.ids)
	}
	w.set[id]++
}
