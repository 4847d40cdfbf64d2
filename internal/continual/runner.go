// Package continual runs Perpetua's learning loop: it reads the event log
// from the committed position and, for every example whose outcome becomes
// known, first scores the prediction made before the outcome was known and
// only then lets each learner learn from it (prequential evaluation).
//
// The purchase task: every view of an item by a user is an example. Each
// learner predicts, at view time, the probability that the user buys the
// item within the label horizon; the example is labelled 1 when the
// purchase arrives within the horizon (event time) and 0 when the horizon
// passes without one. Features are the user's and item's recent behaviour
// as of the view (feature.Behaviour).
//
// Invariants:
//   - One goroutine (the one in Run or Step) mutates learners, features,
//     pending labels and metrics. Readers (serving, metrics) only see
//     immutable published copies.
//   - A checkpoint holds learner state, features, pending labels, metrics
//     and the log offset they correspond to, written atomically together;
//     a runner restored from it continues exactly as an uninterrupted one.
//   - Everything depends on the log and event time only, never on
//     wall-clock time, so a replay is deterministic.
package continual

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perpetua-ml/perpetua/internal/drift"
	"github.com/perpetua-ml/perpetua/internal/durable"
	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/label"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Model is a learner the runner trains: a binary classifier whose state
// can be saved, so it can be checkpointed and published to serving.
type Model interface {
	learn.Binary
	learn.Snapshotter
}

// SparseModel is a learner over encoded examples of the purchase schema
// (feature.NewPurchaseSchema): the user and item IDs, the view's hour and
// weekday, and the behaviour features — such as the wide & deep model.
type SparseModel interface {
	Predict(x *feature.Example) float64
	Learn(x *feature.Example, y float64)
	learn.Snapshotter
}

// SparseScorer is a published, immutable sparse model: Predict is safe
// for concurrent use.
type SparseScorer interface {
	Predict(x *feature.Example) float64
}

// Learner names a model and says how to build a fresh one: exactly one of
// New (a model over the dense behaviour features) and NewSparse (a model
// over the purchase schema's examples) is set. Either must return
// identical models on every call (same configuration and seed).
type Learner struct {
	Name      string
	New       func() (Model, error)
	NewSparse func(schema *feature.Schema) (SparseModel, error)
	// Freeze, optional for sparse learners, publishes an immutable copy
	// of m cheaply (the deep model's copy-on-write Freeze). Without it a
	// publication copies the model through its tensors.
	Freeze func(m SparseModel) SparseScorer
}

// Config configures a Runner. The zero value means the defaults, except
// that Dir is required for checkpoints.
type Config struct {
	// Dir holds the checkpoint file. Empty means no checkpoints.
	Dir string
	// Consumer is the log consumer name (default "purchase").
	Consumer string
	// Horizon is how long after a view a purchase still counts (default 30m).
	Horizon time.Duration
	// Window is the sliding window of the windowed metrics (default 1000).
	Window int
	// Fading is the factor of the fading metrics (default 0.999).
	Fading float64
	// CheckpointEvery checkpoints after this many log records (default 50,000).
	CheckpointEvery int
	// CheckpointInterval checkpoints at most this often while idle
	// with unsaved progress (default 10s, wall clock).
	CheckpointInterval time.Duration
	// PublishEvery publishes models to serving after this many learned
	// examples, and whenever the runner catches up with the log (default 2,000).
	PublishEvery int
	// MaxPending bounds the examples waiting for their label (default 1,000,000).
	MaxPending int
	// Behaviour configures the behaviour features.
	Behaviour feature.BehaviourConfig
	// WideBits is the purchase schema's wide hashing space, 2^WideBits
	// buckets, for sparse learners (default 18).
	WideBits int
	// OnCheckpoint, if set, is called on the trainer goroutine after each
	// full checkpoint (not after deltas): the engine registers model
	// versions from it. It must not block for long.
	OnCheckpoint func(CheckpointInfo)
	// DeltaCheckpoints is the number of delta checkpoints written between
	// full ones (default 9; negative: always full). A delta holds only
	// the embedding rows written since the previous checkpoint, so a
	// large table is not rewritten every time. It applies to sparse
	// learners with Freeze that implement SaveDelta/ApplyDelta (the deep
	// model); others are saved in full in every checkpoint.
	DeltaCheckpoints int
	// FullCheckpointEvery bounds the age of the full checkpoint (from
	// when it was written, also across restarts): once it is older, the
	// next checkpoint is full even if DeltaCheckpoints deltas have not
	// been written yet. Full checkpoints are what the engine registers as
	// model versions, so two versions are at most this plus one
	// checkpoint period apart while the trainer learns. Default 5
	// minutes; negative: only DeltaCheckpoints decides.
	FullCheckpointEvery time.Duration
	// Follow makes the runner a serving replica's follower: it reads the
	// log only to keep the behaviour features current, and serves models
	// adopted from a registry (Adopt, Pin) instead of learning any. It
	// predicts nothing, holds no pending labels and writes no checkpoints
	// (Dir must be empty); Bootstrap starts it from a version's features.
	Follow bool
	// Logger receives lifecycle messages (nil: discard).
	Logger *slog.Logger
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	switch {
	case c.Horizon < 0:
		return fmt.Errorf("continual: config: horizon %v must be ≥ 0", c.Horizon)
	case c.Window < 0 || c.Window > metric.MaxWindow:
		return fmt.Errorf("continual: config: window %d must be in [0, %d]", c.Window, metric.MaxWindow)
	case c.Fading < 0 || c.Fading >= 1:
		return fmt.Errorf("continual: config: fading %v must be in [0, 1)", c.Fading)
	case c.CheckpointEvery < 0, c.PublishEvery < 0, c.MaxPending < 0:
		return errors.New("continual: config: counts must be ≥ 0")
	case c.Follow && c.Dir != "":
		return errors.New("continual: config: a follower (Follow) writes no checkpoints; leave Dir empty")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Consumer == "" {
		c.Consumer = "purchase"
	}
	if c.Horizon == 0 {
		c.Horizon = 30 * time.Minute
	}
	if c.Window == 0 {
		c.Window = 1000
	}
	if c.Fading == 0 {
		c.Fading = 0.999
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 50_000
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 10 * time.Second
	}
	if c.PublishEvery == 0 {
		c.PublishEvery = 2000
	}
	if c.WideBits == 0 {
		c.WideBits = 18
	}
	if c.DeltaCheckpoints == 0 {
		c.DeltaCheckpoints = 9
	}
	if c.FullCheckpointEvery == 0 {
		c.FullCheckpointEvery = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// aucBins bounds the memory of each learner's cumulative AUC on an
// unbounded stream (see metric.NewBinaryBinned).
const aucBins = 10_000

// example is a prediction waiting for its label.
type example struct {
	x     [feature.PurchaseDim]float32
	preds []float64 // one per learner, in learner order
	key   string    // pairKey(user, item): sparse learners re-encode from it
	at    time.Time // the view's event time
}

type trained struct {
	name    string
	model   Model       // a dense learner, or
	sparse  SparseModel // a sparse one
	metrics *metric.Binary
	// detector watches the learner's prequential log loss. Its drifts are
	// markers for monitoring (Published.Drifts), not model state: they are
	// not checkpointed, and a restarted loop watches afresh.
	detector drift.Detector
}

// DriftEvent is a change the runner detected in a learner's prequential
// log loss (ADWIN).
type DriftEvent struct {
	Learner string    `json:"learner"`
	At      time.Time `json:"at"`     // event time of the example that revealed it
	Offset  uint64    `json:"offset"` // log offset being processed
}

// maxDrifts bounds the drift events kept for Published.Drifts.
const maxDrifts = 200

// clock is implemented by models with a logical clock (the deep model's
// embedding admission and expiry): the runner sets it to event time in
// Unix seconds.
type clock interface {
	SetTime(now int64)
}

// deltaSaver is a model whose checkpoints can be deltas.
type deltaSaver interface {
	SaveDelta(s *tensor.Set, prefix string)
	ApplyDelta(s *tensor.Set, prefix string) error
}

// expirer is implemented by models that drop IDs unseen for a while.
type expirer interface {
	Expire() int
}

// Runner is the prequential learning loop for the purchase task.
type Runner struct {
	log      eventlog.Log
	cfg      Config
	learners []Learner
	logger   *slog.Logger

	// Trainer state: touched only by the goroutine in Run/Step.
	models    []trained
	behaviour *feature.Behaviour
	pending   *label.Join[example]
	offset    uint64 // next log offset to process
	watermark time.Time
	stats     Stats
	sinceCkpt int
	sincePub  int
	xbuf      [feature.PurchaseDim]float32
	reader    eventlog.Reader
	// chain identifies the full checkpoint that the deltas written now
	// chain to (the "chain" section of both).
	chain uint64
	// curRefused: checkpoint.ppt was refused by Restore, so the next
	// full checkpoint must not keep it as the previous one.
	curRefused bool
	// deltas is the number of delta checkpoints written (or restored)
	// since the full one; -1 until this runner has a full checkpoint to
	// chain deltas to.
	deltas int
	// lastFull is when the full checkpoint the deltas chain to was
	// written or restored; now is the clock (tests set it).
	lastFull time.Time
	now      func() time.Time

	// The purchase schema, for sparse learners (nil without any): its
	// running stats are trainer state; prow, pex and lex are scratch.
	schema *feature.Schema
	prow   feature.PurchaseRow
	pex    *feature.Example // the example as predicted at view time
	lex    *feature.Example // the example re-encoded to learn from

	running  atomic.Bool
	started  chan struct{} // closed once Run has begun (Stop then waits for it)
	drain    chan struct{} // closed by Stop: finish what the log holds, then return
	stopOnce sync.Once
	done     chan struct{}

	published atomic.Pointer[Published]
	serving   atomic.Pointer[serving]
	shadow    shadowCounters
	lastSet   *tensor.Set // the models of the last checkpoint written (trainer goroutine)
	lastBytes []byte      // and their encoding, as written in the checkpoint
	lastBehav []byte      // and the behaviour features' encoding
	drifts    []DriftEvent
	adopted   atomic.Pointer[adoptedModels] // a follower's models (Follow)
}

// CheckpointInfo describes a full checkpoint to Config.OnCheckpoint.
type CheckpointInfo struct {
	Offset    uint64    // log offset the models reflect
	Watermark time.Time // latest event time seen
	Stats     Stats
	// Models holds every learner's tensors under "NAME." and the purchase
	// schema's under "purchase_schema." (what Pin takes). It must not be
	// modified.
	Models *tensor.Set
	// Encoded is Models as a tensor file, the bytes the checkpoint holds
	// (so a registry stores them without encoding them again).
	Encoded []byte
	// Features is the behaviour feature state at Offset (what Bootstrap
	// takes), as the checkpoint holds it. It must not be modified.
	Features []byte
	Metrics  map[string]metric.Values // per learner, at this checkpoint
}

// Stats counts what the runner did. It is part of the checkpoint.
type Stats struct {
	Records     uint64 `json:"records"`     // log records processed
	Undecodable uint64 `json:"undecodable"` // records that were not valid events (skipped)
	Examples    uint64 `json:"examples"`    // examples predicted (views)
	Labelled    uint64 `json:"labelled"`    // examples scored and learned
	Positives   uint64 `json:"positives"`   // of which purchases
	Evicted     uint64 `json:"evicted"`     // examples labelled early because MaxPending was reached
	Checkpoints uint64 `json:"checkpoints"` // checkpoints written since start (not persisted)
	// CheckpointFailures counts checkpoints that could not be written
	// since start (not persisted); Run logs each and retries later.
	CheckpointFailures uint64 `json:"checkpoint_failures"`
}

// New returns a Runner over log. It builds fresh learners; Run (or
// Restore) loads the checkpoint if there is one.
func New(log eventlog.Log, learners []Learner, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if len(learners) == 0 {
		return nil, errors.New("continual: no learners")
	}
	r := &Runner{
		log: log, cfg: cfg, learners: learners, logger: cfg.Logger.With("component", "continual"),
		drain: make(chan struct{}), done: make(chan struct{}), started: make(chan struct{}), now: time.Now,
	}
	seen := map[string]bool{}
	for _, l := range learners {
		if l.Name == "" || seen[l.Name] {
			return nil, fmt.Errorf("continual: learner name %q empty or duplicate", l.Name)
		}
		if (l.New == nil) == (l.NewSparse == nil) {
			return nil, fmt.Errorf("continual: learner %q: set exactly one of New and NewSparse", l.Name)
		}
		seen[l.Name] = true
	}
	if err := r.reset(); err != nil {
		return nil, err
	}
	return r, nil
}

// reset builds fresh trainer state.
func (r *Runner) reset() error {
	r.models = r.models[:0]
	r.schema = nil
	for _, l := range r.learners {
		t := trained{name: l.Name, metrics: metric.NewBinaryBinned(r.cfg.Window, r.cfg.Fading, aucBins),
			detector: drift.NewADWIN(drift.ADWINConfig{Delta: 1e-5, MinWindow: 500})}
		var err error
		if l.New != nil {
			t.model, err = l.New()
		} else {
			if r.schema == nil {
				if r.schema, err = feature.NewPurchaseSchema(purchaseSchemaSeed, r.cfg.WideBits); err != nil {
					return fmt.Errorf("continual: purchase schema: %w", err)
				}
				r.pex, r.lex = r.schema.NewExample(), r.schema.NewExample()
			}
			t.sparse, err = l.NewSparse(r.schema)
		}
		if err != nil {
			return fmt.Errorf("continual: build learner %q: %w", l.Name, err)
		}
		r.models = append(r.models, t)
	}
	r.behaviour = feature.NewBehaviour(r.cfg.Behaviour)
	r.pending = label.New[example](r.cfg.MaxPending)
	r.offset = 0
	r.watermark = time.Time{}
	r.stats = Stats{}
	r.deltas = -1
	r.drifts = nil
	return nil
}

// Offset returns the next log offset the runner will process. It must be
// called from the trainer goroutine (or when the runner is not running).
func (r *Runner) Offset() uint64 { return r.offset }

// Restore loads the checkpoint in Config.Dir, if any. It reports whether
// one was found.
//
// A corrupt checkpoint file (bad magic, CRC mismatch, a section or delta
// that does not decode or apply) is refused with an Error-level log
// message naming the file and why, and the previous consistent state is
// used instead: the full checkpoint and the deltas before the refused
// one; or, when the full checkpoint itself is refused, the previous full
// checkpoint (checkpoint.prev.ppt); or, without one, the fresh state, so
// that Run replays the log from its start. The loop then continues
// exactly as an uninterrupted run would, from an older point. Errors are
// returned for what an older state cannot fix: a file that cannot be
// read, or a checkpoint beyond the log's end (wrong data dir, lost log).
// On error the runner keeps its fresh state.
func (r *Runner) Restore() (bool, error) {
	if r.cfg.Dir == "" {
		return false, nil
	}
	if gone, err := removeTemps(r.cfg.Dir); err != nil {
		r.logger.Warn("cannot remove the temporary file of an interrupted checkpoint", "err", err)
	} else if len(gone) > 0 {
		r.logger.Info("removed the temporary files of interrupted checkpoints", "files", len(gone))
	}
	found, err := r.restoreFrom(checkpointName, -1)
	var ce *corruptError
	if !errors.As(err, &ce) {
		return found, err
	}
	r.logger.Error("checkpoint refused as corrupt; using the previous one", "file", ce.path, "reason", ce.reason)
	if ce.delta > 0 {
		// Full + the deltas before the refused one. The next checkpoint
		// is a full one: the refused delta and any after it are stale.
		found, err = r.restoreFrom(checkpointName, ce.delta-1)
		if err == nil {
			r.deltas = -1
		}
	} else {
		found, err = r.restoreFrom(prevCheckpointName, 0)
		r.curRefused = true
	}
	if errors.As(err, &ce) {
		r.logger.Error("previous checkpoint refused as corrupt too; replaying the log from its start", "file", ce.path, "reason", ce.reason)
		return false, nil
	}
	if err == nil && !found {
		r.logger.Error("no previous checkpoint; replaying the log from its start")
	}
	return found, err
}

// restoreFrom loads the full checkpoint file name in Config.Dir and up
// to maxDeltas of its deltas (all of them when negative). It reports
// whether the file exists. On error the runner is reset to its fresh
// state (load overwrites all of it otherwise); a *corruptError says
// which file was refused.
func (r *Runner) restoreFrom(name string, maxDeltas int) (bool, error) {
	path := filepath.Join(r.cfg.Dir, name)
	secs, err := readCheckpointFile(path)
	if err != nil || secs == nil {
		return false, err
	}
	if err := r.load(secs, false); err != nil {
		_ = r.reset()
		return false, incompatible(path, err)
	}
	r.deltas, r.chain = 0, chainOf(secs)
	// The full checkpoint's age counts from when it was written, not
	// from this restart: restarts must not put off the next version.
	// Unknown (zero time): the next checkpoint is full.
	r.lastFull = time.Time{}
	if fi, err := os.Stat(path); err == nil {
		r.lastFull = fi.ModTime()
	}
	if name != checkpointName {
		// Deltas chain to checkpoint.ppt, never to the previous one.
		r.deltas = -1
		return true, nil
	}
	for k := 1; maxDeltas < 0 || k <= maxDeltas; k++ {
		dpath := filepath.Join(r.cfg.Dir, deltaName(k))
		secs, err := readCheckpointFile(dpath)
		var ce *corruptError
		if errors.As(err, &ce) {
			ce.delta = k
		}
		if err != nil {
			_ = r.reset()
			return false, err
		}
		if secs == nil {
			break
		}
		if chainOf(secs) != r.chain {
			// Deltas of the checkpoint this one replaced: a crash came
			// between writing it and removing them.
			if err := removeDeltas(r.cfg.Dir, k); err != nil {
				r.logger.Warn("cannot remove the deltas of a replaced checkpoint (they are ignored)", "err", err)
			}
			break
		}
		if err := r.load(secs, true); err != nil {
			_ = r.reset()
			if errors.Is(err, embed.ErrDeltaBase) {
				// Out of order (e.g. a stale delta repeated): the state
				// before it is consistent.
				return false, &corruptError{path: dpath, reason: err.Error(), delta: k}
			}
			return false, incompatible(dpath, err)
		}
		r.deltas = k
	}
	return true, nil
}

// incompatible describes a checkpoint file that is intact (its CRC
// matched) but does not load into this runner: written by another
// configuration of the learners (layers, embedding or admission
// settings), another learner set or another version, or beyond the log's
// end. It is a startup error, not a corrupt file to skip: falling back
// would silently throw the learned state away, and the older files fail
// the same way.
func incompatible(path string, err error) error {
	if errors.Is(err, errBeyondEnd) {
		return fmt.Errorf("continual: checkpoint %s: %v", path, err)
	}
	return fmt.Errorf("continual: checkpoint %s is intact but does not fit these learners (a changed model configuration or learner set, or another version?): %v; "+
		"start with the configuration that wrote it, or move %s away to learn again from the log", path, err, filepath.Dir(path))
}

// Run processes the log until ctx is done or Stop is called, then writes
// a final checkpoint. It restores the checkpoint first. Run returns nil
// after a clean stop.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("continual: Run called twice")
	}
	close(r.started)
	defer close(r.done)
	if _, err := r.Restore(); err != nil {
		return err
	}
	r.logger.Info("starting", "offset", r.offset, "end", r.log.End())
	// waitCtx ends the wait for new records when ctx is done or Stop asks
	// for a drain; one watcher goroutine per Run, ended by the deferred
	// cancel.
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	go func() {
		select {
		case <-r.drain:
			cancelWait()
		case <-waitCtx.Done():
		}
	}()
	// A checkpoint that cannot be written (a full or read-only disk) is
	// logged and counted, and retried no sooner than CheckpointInterval
	// later: the previous checkpoint stays valid, and the log, the source
	// of truth, still holds everything since. Only the final checkpoint's
	// failure ends Run with an error.
	lastCkpt, ckptFailed := time.Now(), false
	checkpoint := func() {
		if err := r.Checkpoint(); err != nil {
			r.stats.CheckpointFailures++
			r.logger.Error("checkpoint failed; the previous one stays valid, retrying later", "dir", r.cfg.Dir, "offset", r.offset, "err", err)
			ckptFailed = true
		} else {
			ckptFailed = false
		}
		lastCkpt = time.Now()
	}
	for {
		n, err := r.Step(ctx, 4096)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ctx.Err() != nil {
			return r.finish()
		}
		if r.sinceCkpt >= r.cfg.CheckpointEvery && (!ckptFailed || time.Since(lastCkpt) >= r.cfg.CheckpointInterval) {
			checkpoint()
		}
		if n > 0 {
			continue
		}
		// Caught up: serving gets the latest models, unless nothing changed
		// since the last publication (idle wake-ups).
		if p := r.published.Load(); p == nil || p.Offset != r.offset {
			r.publish()
		}
		select {
		case <-r.drain:
			// The last Step may have run before records appended ahead of
			// the Stop became visible: read to the end once more.
			for {
				n, err := r.Step(ctx, 4096)
				if err != nil && ctx.Err() == nil {
					return err
				}
				if n == 0 || ctx.Err() != nil {
					return r.finish()
				}
			}
		default:
		}
		if r.sinceCkpt > 0 && time.Since(lastCkpt) >= r.cfg.CheckpointInterval {
			checkpoint()
		}
		wctx, cancel := context.WithTimeout(waitCtx, r.cfg.CheckpointInterval)
		werr := r.reader.Wait(wctx)
		cancel()
		if werr != nil && !errors.Is(werr, context.DeadlineExceeded) && !errors.Is(werr, context.Canceled) {
			return werr
		}
	}
}

func (r *Runner) finish() error {
	if r.reader != nil {
		r.reader.Close()
		r.reader = nil
	}
	r.publish()
	if r.sinceCkpt > 0 || r.stats.Records == 0 {
		if err := r.Checkpoint(); err != nil {
			return err
		}
	}
	r.logger.Info("stopped", "offset", r.offset)
	return nil
}

// Stop asks Run to process everything the log holds now, write a final
// checkpoint and return; it waits until Run has returned or ctx is done.
// Call it after ingest has stopped so that the log no longer grows.
func (r *Runner) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.drain) })
	if !r.running.Load() {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Started is closed once Run has begun: a Stop after that waits for Run
// to drain the log.
func (r *Runner) Started() <-chan struct{} { return r.started }

// Step processes up to max available log records and returns how many it
// processed. It does not block waiting for new records.
func (r *Runner) Step(ctx context.Context, max int) (int, error) {
	if r.reader == nil {
		rd, err := r.log.NewReader(r.offset)
		if err != nil {
			return 0, fmt.Errorf("continual: open reader at %d: %w", r.offset, err)
		}
		r.reader = rd
	}
	n := 0
	for n < max {
		rec, err := r.reader.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("continual: read log at %d: %w", r.offset, err)
		}
		if rec.Offset != r.offset {
			return n, fmt.Errorf("continual: log returned offset %d; want %d", rec.Offset, r.offset)
		}
		r.process(rec.Data)
		r.offset++
		r.stats.Records++
		r.sinceCkpt++
		n++
	}
	return n, nil
}

func (r *Runner) process(data []byte) {
	e, err := event.Decode(data)
	if err != nil {
		// Ingest validated every record, so this means a record written by
		// another producer or an older schema. Skipping it keeps the loop
		// alive; it is counted, and visible in metrics.
		r.stats.Undecodable++
		return
	}
	// Only the clickstream the task learns from moves its event-time
	// watermark (and so expires pending views as negatives): other events
	// may carry another clock, e.g. impressions and feedback stamped by
	// the server's wall clock while a shop replays or simulates past days,
	// and one of them would expire every pending view at once.
	clickstream := e.Type.Clickstream()
	if r.cfg.Follow {
		if clickstream && e.Timestamp.After(r.watermark) {
			r.watermark = e.Timestamp
		}
		r.behaviour.Observe(&e)
		if r.sincePub++; r.sincePub >= r.cfg.PublishEvery {
			r.publish()
		}
		return
	}
	if clickstream && e.Timestamp.After(r.watermark) {
		r.watermark = e.Timestamp
		r.pending.Expire(r.watermark, r.learnNegative)
	}
	switch e.Type {
	case event.TypePurchase:
		r.pending.Resolve(pairKey(e.UserID, e.ItemID), r.learnPositive)
	case event.TypeView:
		r.predictView(&e)
	}
	r.behaviour.Observe(&e)
}

// expireEvery is how many labelled examples pass between expiry sweeps of
// the sparse learners' tables (counted, so replays stay deterministic).
const expireEvery = 10_000

// purchaseSchemaSeed seeds the purchase schema's hashes. It is part of
// every checkpoint's meaning: changing it invalidates sparse learners.
const purchaseSchemaSeed = 0x7075726368617365 // "purchase"

func pairKey(user, item string) string { return user + "\x00" + item }

// splitKey inverts pairKey.
func splitKey(key string) (user, item string) {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// fillRow sets the purchase row of user × item viewed at t with
// behaviour features x.
func fillRow(row *feature.PurchaseRow, user, item string, t time.Time, x []float32) {
	row.User, row.Item = user, item
	t = t.UTC()
	row.Hour, row.Weekday = t.Hour(), int(t.Weekday())
	copy(row.X[:], x)
}

func (r *Runner) predictView(e *event.Event) {
	x := r.xbuf[:]
	r.behaviour.Features(x, e.UserID, e.ItemID, e.Timestamp)
	key := pairKey(e.UserID, e.ItemID)
	ex := example{preds: make([]float64, len(r.models)), key: key, at: e.Timestamp}
	copy(ex.x[:], x)
	if r.schema != nil {
		fillRow(&r.prow, e.UserID, e.ItemID, e.Timestamp, x)
		if err := r.schema.Encode(r.pex, &r.prow); err != nil {
			panic(fmt.Sprintf("continual: purchase row does not fit its schema: %v", err)) // a bug, not bad input
		}
	}
	for i := range r.models {
		m := &r.models[i]
		if m.sparse != nil {
			ex.preds[i] = m.sparse.Predict(r.pex)
		} else {
			ex.preds[i] = m.model.Predict(x)
		}
	}
	r.stats.Examples++
	r.pending.Add(key, e.Timestamp.Add(r.cfg.Horizon), ex, r.learnEvicted)
}

func (r *Runner) learnPositive(ex example) { r.learnExample(ex, 1) }
func (r *Runner) learnNegative(ex example) { r.learnExample(ex, 0) }
func (r *Runner) learnEvicted(ex example) {
	r.stats.Evicted++
	r.learnExample(ex, 0)
}

// learnExample scores the prediction made at view time, then learns.
func (r *Runner) learnExample(ex example, y float64) {
	if r.schema != nil {
		// Re-encode with the schema's current stats (the prediction was
		// scored with those of view time; the IDs are the same).
		user, item := splitKey(ex.key)
		fillRow(&r.prow, user, item, ex.at, ex.x[:])
		if err := r.schema.Transform(r.lex, &r.prow); err != nil {
			panic(fmt.Sprintf("continual: purchase row does not fit its schema: %v", err))
		}
	}
	for i := range r.models {
		m := &r.models[i]
		m.metrics.Update(ex.preds[i], y)
		p := min(max(ex.preds[i], 1e-6), 1-1e-6)
		if y == 1 {
			m.detector.Update(-math.Log(p))
		} else {
			m.detector.Update(-math.Log(1 - p))
		}
		if m.detector.Drift() {
			if len(r.drifts) == maxDrifts {
				r.drifts = append(r.drifts[:0], r.drifts[1:]...)
			}
			r.drifts = append(r.drifts, DriftEvent{Learner: m.name, At: ex.at, Offset: r.offset})
		}
		if m.sparse != nil {
			if c, ok := m.sparse.(clock); ok {
				c.SetTime(ex.at.Unix())
			}
			m.sparse.Learn(r.lex, y)
		} else {
			m.model.Learn(ex.x[:], y)
		}
	}
	r.stats.Labelled++
	if r.stats.Labelled%expireEvery == 0 {
		for i := range r.models {
			if e, ok := r.models[i].sparse.(expirer); ok {
				e.Expire()
			}
		}
	}
	if y == 1 {
		r.stats.Positives++
	}
	r.sincePub++
	if r.sincePub >= r.cfg.PublishEvery {
		r.publish()
	}
}

// Checkpoint atomically writes the complete trainer state and its log
// offset to Config.Dir, then commits the offset as the consumer position.
// It must be called from the trainer goroutine.
func (r *Runner) Checkpoint() error {
	if r.cfg.Dir == "" {
		r.sinceCkpt = 0
		return nil
	}
	delta := r.deltas >= 0 && r.deltas < r.cfg.DeltaCheckpoints && r.hasDeltaLearners() &&
		(r.cfg.FullCheckpointEvery < 0 || r.now().Sub(r.lastFull) < r.cfg.FullCheckpointEvery)
	// Saving moves the delta learners' baselines (what the next delta
	// holds) whether or not the file then reaches the disk: after any
	// failure the next checkpoint must be a full one, or a delta would
	// miss the changes of the lost file.
	failed := func(err error) error {
		r.deltas = -1
		return fmt.Errorf("continual: checkpoint: %w", err)
	}
	secs, err := r.saveAs(delta)
	if err != nil {
		return failed(err)
	}
	if err := os.MkdirAll(r.cfg.Dir, 0o755); err != nil {
		return failed(err)
	}
	if delta {
		secs = append(secs, chainSection(r.chain))
		if err := durable.WriteFile(filepath.Join(r.cfg.Dir, deltaName(r.deltas+1)), encodeCheckpoint(secs), 0o644); err != nil {
			return failed(err)
		}
		r.deltas++
	} else {
		// The replaced checkpoint stays as checkpoint.prev.ppt, used if
		// the new one is refused. The new one starts a new chain: the old
		// deltas, removed after it is written, no longer apply — and if a
		// crash comes first, Restore ignores them, as their chain differs.
		chain := newChain()
		secs = append(secs, chainSection(chain))
		if !r.curRefused {
			if err := keepPrevious(r.cfg.Dir); err != nil {
				return failed(err)
			}
		}
		if err := durable.WriteFile(filepath.Join(r.cfg.Dir, checkpointName), encodeCheckpoint(secs), 0o644); err != nil {
			return failed(err)
		}
		r.deltas, r.curRefused, r.chain, r.lastFull = 0, false, chain, r.now()
		if err := removeDeltas(r.cfg.Dir, 1); err != nil {
			r.logger.Warn("cannot remove the deltas of the replaced checkpoint (they are ignored)", "err", err)
		}
		if r.cfg.OnCheckpoint != nil && r.lastSet != nil {
			info := CheckpointInfo{Offset: r.offset, Watermark: r.watermark, Stats: r.stats, Models: r.lastSet, Encoded: r.lastBytes, Features: r.lastBehav,
				Metrics: make(map[string]metric.Values, len(r.models))}
			for _, m := range r.models {
				info.Metrics[m.name] = m.metrics.Snapshot()
			}
			r.cfg.OnCheckpoint(info)
		}
	}
	r.sinceCkpt = 0
	r.stats.Checkpoints++
	// The checkpoint is the source of truth for the position; the log's
	// consumer position is informational (lag monitoring, operators).
	if err := r.log.Commit(context.Background(), r.cfg.Consumer, r.offset); err != nil {
		return fmt.Errorf("continual: commit offset %d: %w", r.offset, err)
	}
	return nil
}

// hasDeltaLearners reports whether some learner's checkpoint can be a delta.
func (r *Runner) hasDeltaLearners() bool {
	for i := range r.models {
		if r.deltaCapable(i) {
			return true
		}
	}
	return false
}

// deltaCapable reports whether learner i is saved as deltas between full
// checkpoints: a sparse learner published by Freeze (publishing through
// SaveTensors would restart its delta chain) that implements deltaSaver.
func (r *Runner) deltaCapable(i int) bool {
	_, ok := r.models[i].sparse.(deltaSaver)
	return ok && r.learners[i].Freeze != nil && r.cfg.DeltaCheckpoints > 0
}

// save returns the complete state as full checkpoint sections.
func (r *Runner) save() ([]section, error) { return r.saveAs(false) }

// saveAs returns the state as checkpoint sections; with delta, the
// delta-capable learners hold only what changed since the last checkpoint.
func (r *Runner) saveAs(delta bool) ([]section, error) {
	var head []byte
	head = binary.LittleEndian.AppendUint64(head, r.offset)
	head = binary.LittleEndian.AppendUint64(head, uint64(r.watermark.UnixNano()))
	for _, v := range []uint64{r.stats.Records, r.stats.Undecodable, r.stats.Examples, r.stats.Labelled, r.stats.Positives, r.stats.Evicted} {
		head = binary.LittleEndian.AppendUint64(head, v)
	}
	var ts tensor.Set
	ts.SetMeta("task", "purchase")
	ts.SetMeta("log_offset", fmt.Sprint(r.offset))
	secs := []section{{name: "head", data: head}}
	if r.schema != nil {
		r.schema.SaveTensors(&ts, "purchase_schema.")
	}
	if delta {
		ts.SetMeta("checkpoint_kind", "delta")
	}
	for i, m := range r.models {
		if delta && r.deltaCapable(i) {
			m.sparse.(deltaSaver).SaveDelta(&ts, m.name+".")
		} else {
			m.snapshotter().SaveTensors(&ts, m.name+".")
		}
		mb, err := m.metrics.MarshalBinary()
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: "metrics." + m.name, data: mb})
	}
	tb, err := ts.MarshalBinary()
	if err != nil {
		return nil, err
	}
	r.lastSet, r.lastBytes = &ts, tb
	bb, err := r.behaviour.MarshalBinary()
	if err != nil {
		return nil, err
	}
	r.lastBehav = bb
	secs = append(secs, section{name: "models", data: tb}, section{name: "behaviour", data: bb},
		section{name: "pending", data: r.encodePending()})
	return secs, nil
}

// load installs checkpoint sections; delta says they are a delta
// checkpoint, whose delta-capable learners hold deltas to apply.
func (r *Runner) load(secs map[string][]byte, delta bool) error {
	head := secs["head"]
	if len(head) != 8*8 {
		return fmt.Errorf("head section: %d bytes; want 64", len(head))
	}
	ts, err := tensor.Unmarshal(secs["models"])
	if err != nil {
		return err
	}
	if r.schema != nil {
		if err := r.schema.LoadTensors(ts, "purchase_schema."); err != nil {
			return fmt.Errorf("purchase schema: %w", err)
		}
	}
	if kind, _ := ts.Meta("checkpoint_kind"); (kind == "delta") != delta {
		return fmt.Errorf("models section is of kind %q where a %s checkpoint was expected", kind, map[bool]string{true: "delta", false: "full"}[delta])
	}
	for i := range r.models {
		m := &r.models[i]
		if delta && r.deltaCapable(i) {
			if err := m.sparse.(deltaSaver).ApplyDelta(ts, m.name+"."); err != nil {
				return fmt.Errorf("learner %q: %w", m.name, err)
			}
		} else if err := m.snapshotter().LoadTensors(ts, m.name+"."); err != nil {
			return fmt.Errorf("learner %q: %w", m.name, err)
		}
		mb, ok := secs["metrics."+m.name]
		if !ok {
			return fmt.Errorf("learner %q: no metrics section", m.name)
		}
		if err := m.metrics.UnmarshalBinary(mb); err != nil {
			return fmt.Errorf("learner %q metrics: %w", m.name, err)
		}
	}
	if err := r.behaviour.UnmarshalBinary(secs["behaviour"]); err != nil {
		return err
	}
	if err := r.decodePending(secs["pending"]); err != nil {
		return fmt.Errorf("pending section: %w", err)
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(head[8*i:]) }
	r.offset = u(0)
	r.watermark = time.Unix(0, int64(u(1)))
	if u(1) == uint64(time.Time{}.UnixNano()) {
		r.watermark = time.Time{}
	}
	r.stats = Stats{Records: u(2), Undecodable: u(3), Examples: u(4), Labelled: u(5), Positives: u(6), Evicted: u(7)}
	if end := r.log.End(); r.offset > end {
		return fmt.Errorf("%w: checkpoint offset %d, log end %d (wrong data dir?)", errBeyondEnd, r.offset, end)
	}
	return nil
}

// snapshotter returns the learner's state saver.
func (t *trained) snapshotter() learn.Snapshotter {
	if t.sparse != nil {
		return t.sparse
	}
	return t.model
}

func (r *Runner) encodePending() []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(r.pending.Len()))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.models)))
	r.pending.Each(func(key string, deadline time.Time, ex example) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
		b = append(b, key...)
		b = binary.LittleEndian.AppendUint64(b, uint64(deadline.UnixNano()))
		for _, v := range ex.x {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		for _, p := range ex.preds {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p))
		}
	})
	return b
}

func (r *Runner) decodePending(b []byte) error {
	if len(b) < 12 {
		return errors.New("truncated")
	}
	n := binary.LittleEndian.Uint64(b)
	nm := int(binary.LittleEndian.Uint32(b[8:]))
	if nm != len(r.models) {
		return fmt.Errorf("%d learners; this runner has %d", nm, len(r.models))
	}
	b = b[12:]
	j := label.New[example](r.cfg.MaxPending)
	for i := uint64(0); i < n; i++ {
		if len(b) < 4 {
			return errors.New("truncated")
		}
		kl := int(binary.LittleEndian.Uint32(b))
		need := 4 + kl + 8 + 4*feature.PurchaseDim + 8*nm
		if len(b) < need {
			return errors.New("truncated")
		}
		key := string(b[4 : 4+kl])
		p := b[4+kl:]
		deadline := time.Unix(0, int64(binary.LittleEndian.Uint64(p)))
		p = p[8:]
		ex := example{preds: make([]float64, nm), key: key, at: deadline.Add(-r.cfg.Horizon)}
		for k := range ex.x {
			ex.x[k] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*k:]))
		}
		p = p[4*feature.PurchaseDim:]
		for k := range ex.preds {
			ex.preds[k] = math.Float64frombits(binary.LittleEndian.Uint64(p[8*k:]))
		}
		j.Add(key, deadline, ex, nil)
		b = b[need:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(b))
	}
	r.pending = j
	return nil
}
