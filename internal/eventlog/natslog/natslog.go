package natslog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// Defaults for zero Options fields.
const (
	DefaultStream  = "PERPETUA_EVENTS"
	DefaultSubject = "perpetua.events"
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBatch is the atomic batch limit assumed for a remote
	// server: the stock nats-server's batch.max_msgs.
	DefaultMaxBatch = 1000
	// headerRoom is reserved in each message for the headers.
	headerRoom = 256
)

// Headers of JetStream atomic batch publishing (nats-server 2.12+).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// Options configures Open. Exactly one of URL, Conn, Server and Dir says
// where JetStream is; the other fields have defaults.
type Options struct {
	// URL is a comma-separated list of server URLs
	// ("nats://host:4222,nats://host2:4222").
	URL string
	// ConnectOptions are passed to nats.Connect with URL (credentials,
	// TLS, …).
	ConnectOptions []nats.Option
	// Conn is an existing connection; Close does not close it.
	Conn *nats.Conn
	// Server is a running embedded server, reached by an in-process
	// connection; Close does not stop it.
	Server *server.Server
	// Dir starts an embedded single-node server (no port opened) with
	// JetStream file storage in Dir; Close stops it.
	Dir string
	// SyncAlways, with Dir, makes the embedded server fsync every write
	// before acknowledging it (see ServerConfig.SyncAlways).
	SyncAlways bool

	// Stream and Subject name the JetStream stream holding the log and
	// its only subject. Zero means DefaultStream and DefaultSubject.
	Stream  string
	Subject string
	// Replicas is the stream's replication factor when natslog creates
	// it (1 to 5; 3 for a three-node cluster). Zero means 1.
	Replicas int
	// MaxBatch is the server's atomic batch limit (batch.max_msgs) in
	// messages: an Append too large for one message (max_payload) is
	// split into at most MaxBatch messages published atomically. Zero
	// means DefaultServerMaxBatch for an embedded server started by Dir,
	// and DefaultMaxBatch otherwise.
	MaxBatch int
	// Timeout bounds the server calls that have no caller context:
	// NewReader's, and each group-commit publish (one Append's publish
	// also carries other callers' batches, so it cannot use their
	// contexts; each Append still returns when its own ctx is done).
	// Zero means DefaultTimeout.
	Timeout time.Duration
}

// Log is an eventlog.Log on a JetStream stream. See the package
// documentation for the mapping and its invariants.
type Log struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	kv        jetstream.KeyValue
	st        jetstream.Stream
	maxChunk  int // most bytes of encoded records in one message
	stream    string
	subject   string
	maxRecord int
	maxBatch  int
	replicas  int
	timeout   time.Duration
	ownConn   bool
	ownServer *server.Server
	end       atomic.Uint64 // highest known stream sequence = number of records
	// closeCtx is a lifetime signal, not a request context: Close cancels
	// it, and withClose derives each blocking call's context from the
	// caller's ctx plus it, so Close wakes every blocked call.
	closeCtx   context.Context
	closeStart context.CancelFunc
	closeOnce  sync.Once
	closeMu    sync.RWMutex // held shared by calls in flight, exclusively by Close
	closedFlag bool         // guarded by closeMu

	lead  chan struct{} // 1-slot semaphore: the group commit leader
	queue queue         // Appends waiting for a leader
	w     writer        // guarded by lead

	mu struct {
		sync.Mutex
		readers map[*reader]struct{} // guarded by mu: open readers, released by Close
	}
}

var _ eventlog.Log = (*Log)(nil)

// Open connects to JetStream, creates the stream (and the consumer
// positions bucket) if missing, and returns the log. An existing stream
// must have the log's subject and keep every message; Open turns on
// allow_atomic, deny_delete and deny_purge if they are off.
func Open(ctx context.Context, opts Options) (*Log, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	l := &Log{
		stream:  opts.Stream,
		subject: opts.Subject,
		timeout: opts.Timeout,
	}
	l.closeCtx, l.closeStart = context.WithCancel(context.Background())
	l.mu.readers = make(map[*reader]struct{})
	l.lead = make(chan struct{}, 1)
	var err error
	switch {
	case opts.Conn != nil:
		l.nc = opts.Conn
	case opts.Server != nil:
		l.nc, err = nats.Connect("", nats.InProcessServer(opts.Server), nats.Name("perpetua-natslog"))
		l.ownConn = true
	case opts.Dir != "":
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("natslog: %v", err)
		}
		l.ownServer, err = StartServer(ServerConfig{Dir: opts.Dir, SyncAlways: opts.SyncAlways, MaxBatch: opts.MaxBatch})
		if err != nil {
			return nil, err
		}
		if opts.MaxBatch == 0 {
			opts.MaxBatch = DefaultServerMaxBatch
		}
		l.nc, err = nats.Connect("", nats.InProcessServer(l.ownServer), nats.Name("perpetua-natslog"))
		l.ownConn = true
	default:
		copts := append([]nats.Option{nats.Name("perpetua-natslog")}, opts.ConnectOptions...)
		l.nc, err = nats.Connect(opts.URL, copts...)
		l.ownConn = true
	}
	if err != nil {
		l.shutdown()
		return nil, fmt.Errorf("natslog: connecting: %v", err)
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	l.maxBatch = opts.MaxBatch
	l.replicas = opts.Replicas
	l.maxChunk = int(l.nc.MaxPayload()) - headerRoom - chunkOverhead
	l.maxRecord = l.maxChunk - uvarintLen(uint64(l.maxChunk))
	if l.maxRecord < 1 {
		l.shutdown()
		return nil, fmt.Errorf("natslog: server max_payload %d leaves no room for records", l.nc.MaxPayload())
	}
	if err := l.setup(ctx, opts); err != nil {
		l.shutdown()
		return nil, err
	}
	return l, nil
}

func (o *Options) validate() error {
	n := 0
	for _, set := range []bool{o.URL != "", o.Conn != nil, o.Server != nil, o.Dir != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("natslog: Options: set exactly one of URL, Conn, Server and Dir (%d set)", n)
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if err := o.validateNames(); err != nil {
		return err
	}
	switch {
	case o.Replicas < 1 || o.Replicas > 5:
		return fmt.Errorf("natslog: Options.Replicas %d: want 1 to 5", o.Replicas)
	case o.MaxBatch < 0:
		return fmt.Errorf("natslog: Options.MaxBatch %d must not be negative", o.MaxBatch)
	case o.Timeout < 0:
		return fmt.Errorf("natslog: Options.Timeout %v must not be negative", o.Timeout)
	}
	return nil
}

// validateNames checks Stream and Subject when set.
func (o *Options) validateNames() error {
	if o.Stream != "" {
		if err := validName(o.Stream); err != nil {
			return fmt.Errorf("natslog: Options.Stream: %v", err)
		}
	}
	if o.Subject != "" {
		if err := validSubject(o.Subject); err != nil {
			return fmt.Errorf("natslog: Options.Subject: %v", err)
		}
	}
	return nil
}

// validName checks a stream name: letters, digits, '-' and '_' (a KV bucket
// name is derived from it, which allows no more).
func validName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%q: want 1 to 64 bytes", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q has byte %q at %d; allowed: letters, digits, '-', '_'", s, c, i)
		}
	}
	return nil
}

// validSubject checks a literal subject: dot-separated non-empty tokens of
// printable ASCII without wildcards.
func validSubject(s string) error {
	if s == "" {
		return errors.New(`"" is empty`)
	}
	tok := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if tok == 0 {
				return fmt.Errorf("%q has an empty token at %d", s, i)
			}
			tok = 0
			continue
		case c == '*' || c == '>':
			return fmt.Errorf("%q has wildcard %q at %d; the log needs one literal subject", s, c, i)
		case c <= ' ' || c >= 0x7f:
			return fmt.Errorf("%q has byte %q at %d; allowed: printable ASCII", s, c, i)
		}
		tok++
	}
	if tok == 0 {
		return fmt.Errorf("%q ends with an empty token", s)
	}
	return nil
}

// setup creates or checks the stream and the positions bucket.
func (l *Log) setup(ctx context.Context, opts Options) error {
	var err error
	l.js, err = jetstream.New(l.nc)
	if err != nil {
		return fmt.Errorf("natslog: %v", err)
	}
	st, err := ensureStream(ctx, l.nc, streamConfig{
		Name:        l.stream,
		Subjects:    []string{l.subject},
		Retention:   "limits",
		Storage:     "file",
		Replicas:    opts.Replicas,
		Discard:     "old",
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  -1,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
		AllowAtomic: true,
	})
	if err != nil {
		return fmt.Errorf("natslog: %v", err)
	}
	if err := checkDense(l.stream, st); err != nil {
		return fmt.Errorf("natslog: %v", err)
	}
	l.lead <- struct{}{}
	err = l.resyncLocked(ctx)
	<-l.lead
	if err != nil {
		return fmt.Errorf("natslog: reading the end of stream %s: %v", l.stream, err)
	}
	l.kv, err = l.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      l.bucket(),
		Description: "Perpetua event log consumer positions of stream " + l.stream,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("natslog: consumer positions bucket %s: %v", l.bucket(), err)
	}
	return nil
}

// bucket is the KV bucket of consumer positions.
func (l *Log) bucket() string { return l.stream + "_consumers" }

// MaxRecordSize returns the largest record Append accepts: the server's
// max_payload less room for the batch headers.
func (l *Log) MaxRecordSize() int { return l.maxRecord }

// enter registers a call in flight; it fails after Close.
func (l *Log) enter() error {
	l.closeMu.RLock()
	if l.closedFlag {
		l.closeMu.RUnlock()
		return eventlog.ErrClosed
	}
	return nil
}

func (l *Log) leave() { l.closeMu.RUnlock() }

// isClosed reports whether Close has begun.
func (l *Log) isClosed() bool {
	return l.closeCtx.Err() != nil
}

// advance raises the known end to seq.
func (l *Log) advance(seq uint64) {
	for {
		cur := l.end.Load()
		if seq <= cur || l.end.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// withClose returns ctx cancelled also when the log closes.
func (l *Log) withClose(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.closeCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// End returns the number of records known to this Log: those of the
// stream when Open or the last refresh ran, plus those appended or read
// since. Appends by other processes show up after a refresh (NewReader or
// Commit beyond End, or Refresh).
func (l *Log) End() uint64 { return l.end.Load() }

// Refresh updates End from the server, so that appends by other
// processes count.
func (l *Log) Refresh(ctx context.Context) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	_, end, err := l.tail(ctx)
	if err != nil {
		return fmt.Errorf("natslog: refresh: %v", err)
	}
	l.advance(end)
	return nil
}

// refreshIfBeyond refreshes End when off is beyond it.
func (l *Log) refreshIfBeyond(ctx context.Context, off uint64) error {
	if off <= l.end.Load() {
		return nil
	}
	_, end, err := l.tail(ctx)
	if err != nil {
		return fmt.Errorf("natslog: refresh: %v", err)
	}
	l.advance(end)
	return nil
}

// Commit durably stores consumer's position in the positions bucket.
func (l *Log) Commit(ctx context.Context, consumer string, next uint64) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if err := eventlog.ValidateConsumer(consumer); err != nil {
		return fmt.Errorf("natslog: commit: %w", err)
	}
	ctx, stop := l.withClose(ctx)
	defer stop()
	if err := l.refreshIfBeyond(ctx, next); err != nil {
		return err
	}
	if end := l.end.Load(); next > end {
		return fmt.Errorf("natslog: commit %s at %d beyond end %d: %w", consumer, next, end, eventlog.ErrOutOfRange)
	}
	if _, err := l.kv.Put(ctx, consumer, strconv.AppendUint(nil, next, 10)); err != nil {
		return fmt.Errorf("natslog: commit %s at %d: %v", consumer, next, err)
	}
	return nil
}

// Committed returns consumer's stored position, or 0 if none.
func (l *Log) Committed(ctx context.Context, consumer string) (uint64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	if err := eventlog.ValidateConsumer(consumer); err != nil {
		return 0, fmt.Errorf("natslog: committed: %w", err)
	}
	ctx, stop := l.withClose(ctx)
	defer stop()
	// Read through the bucket's stream leader, not kv.Get: a KV get may be
	// a direct get answered by a lagging replica.
	m, ok, err := msgGet(ctx, l.nc, "KV_"+l.bucket(), struct {
		Subj string `json:"last_by_subj"`
	}{"$KV." + l.bucket() + "." + consumer})
	if err != nil {
		return 0, fmt.Errorf("natslog: committed %s: %v", consumer, err)
	}
	if !ok || len(m.Data) == 0 {
		return 0, nil // never committed (or a KV delete marker)
	}
	n, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("natslog: committed %s: bucket %s holds %q, not a position: %v", consumer, l.bucket(), truncate(m.Data), err)
	}
	return n, nil
}

// JetStream returns the log's JetStream handle, for other state kept on
// the same servers (the model registry's object store). It is valid
// until Close.
func (l *Log) JetStream() jetstream.JetStream { return l.js }

// Replicas returns the replication factor the log was opened with, the
// one to give other buckets on the same cluster.
func (l *Log) Replicas() int { return l.replicas }

// Close closes the log: calls in flight are cancelled, Readers return
// ErrClosed, the connection is closed if Open made it and the embedded
// server stopped if Open started it. JetStream acknowledged every append
// already, so there is nothing to flush. It is idempotent.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.closeStart() // wakes blocked Waits and Appends first
		l.closeMu.Lock()
		l.closedFlag = true
		l.closeMu.Unlock()
		l.mu.Lock()
		for r := range l.mu.readers {
			r.release()
		}
		clear(l.mu.readers)
		l.mu.Unlock()
		l.shutdown()
	})
	return nil
}

// shutdown releases the connection and the server Open created.
func (l *Log) shutdown() {
	if l.nc != nil && l.ownConn {
		l.nc.Close()
	}
	if l.ownServer != nil {
		l.ownServer.Shutdown()
		l.ownServer.WaitForShutdown()
	}
}
