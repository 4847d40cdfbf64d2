// Package engine wires Perpetua's parts into one embeddable component:
// the event log, ingest, the prequential learning loop and the HTTP API.
//
// Lifecycle: New(cfg) → Run(ctx) → Ready() → Shutdown(ctx). Shutdown is
// idempotent and drains in this order (implemented in Shutdown):
//
//  1. readiness turns false (/readyz answers 503);
//  2. stop ingest: new POST /v1/events get 503;
//  3. flush the log: every acknowledged batch is durable already (the log
//     acknowledges only after its sync policy is met); the runner then
//     processes everything the log holds;
//  4. final train step and checkpoint (learners, features, pending labels,
//     metrics and the log offset, atomically);
//  5. stop HTTP (http.Server.Shutdown), then close the log.
//
// The engine never installs signal handlers: main owns them.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/dashboard"
	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/ingest"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
	"github.com/perpetua-ml/perpetua/internal/recommend"
	"github.com/perpetua-ml/perpetua/internal/registry"
	"github.com/perpetua-ml/perpetua/internal/risk"
	"github.com/perpetua-ml/perpetua/internal/serve"
	"github.com/perpetua-ml/perpetua/internal/source/kafka"
	"github.com/perpetua-ml/perpetua/internal/supply"
)

// Config configures an Engine. The zero value means the defaults, except
// DataDir, which is required.
type Config struct {
	// DataDir holds the log (log/) and checkpoints (checkpoints/).
	DataDir string `json:"data_dir"`
	// Addr is the HTTP listen address (default 127.0.0.1:8080). Listening
	// beyond loopback requires API keys.
	Addr string `json:"addr"`
	// Sync is the log fsync policy: "always" (default), "interval", "never".
	Sync string `json:"sync"`
	// Log selects the event log: "" for the embedded segment log in
	// DataDir/log, or a NATS JetStream URL (see docs/nats.md):
	// "nats://host:4222[,host2:4222]?stream=…&replicas=3", or
	// "nats+embedded:///DIR" for an in-process server storing in DIR.
	Log string `json:"log"`
	// Keys are API keys in the PERPETUA_API_KEYS format
	// ("secret:ingest+predict,secret2:admin"); they are added to those
	// from the environment.
	Keys string `json:"keys"`
	// Horizon is how long after a view a purchase still counts (default 30m).
	Horizon Duration `json:"horizon"`
	// Window is the sliding window of the windowed metrics (default 1000).
	Window int `json:"window"`
	// Hidden are the MLP's hidden layer widths (default [20]).
	Hidden []int `json:"hidden"`
	// Seed seeds model initialisation (default 1).
	Seed uint64 `json:"seed"`
	// CheckpointEvery checkpoints after this many log records (default 50,000).
	CheckpointEvery int `json:"checkpoint_every"`
	// CheckpointInterval checkpoints at most this often while idle (default 10s).
	CheckpointInterval Duration `json:"checkpoint_interval"`
	// PublishEvery publishes models to serving after this many labelled
	// examples (default 2,000).
	PublishEvery int `json:"publish_every"`
	// MaxBodyBytes caps an ingest request body (default 16 MiB).
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// TLSCertFile and TLSKeyFile (PEM) make the API speak HTTPS; both or
	// neither.
	TLSCertFile string `json:"tls_cert_file"`
	TLSKeyFile  string `json:"tls_key_file"`
	// RateLimit is each API key's sustained requests per second (bursts
	// of RateBurst); 0 means none.
	RateLimit float64 `json:"rate_limit"`
	RateBurst int     `json:"rate_burst"`
	// Pprof serves Go's profiler at /debug/pprof/ to admin keys.
	Pprof bool `json:"pprof"`
	// Role splits training from serving across processes (docs/nats.md):
	// "all" (the default) trains and serves in one process; "train" is
	// the one trainer, which also publishes each version's feature state
	// to the registry; "serve" is a stateless serving replica: it trains
	// nothing and writes nothing locally, keeps its features current from
	// the shared log and serves the registry's versions, following
	// promotions as they happen. "serve" needs a NATS log and registry.
	Role string `json:"role"`
	// Registry is where model versions live: "dir" (DataDir/registry,
	// the default with the embedded log) or "nats" (an object store on
	// the log's NATS servers, the default with a NATS log).
	Registry string `json:"registry"`
	// DeltaCheckpoints is the number of delta checkpoints between full
	// ones (default 9; -1: every checkpoint is full). Model versions are
	// registered at full checkpoints, so serving replicas see a new
	// version every DeltaCheckpoints+1 checkpoints, or sooner by
	// FullCheckpointEvery.
	DeltaCheckpoints int `json:"delta_checkpoints"`
	// FullCheckpointEvery makes a checkpoint full, whatever the count of
	// deltas, once the last full one is this old (default 5m; "-1s":
	// never by age). Versions are then at most this plus one checkpoint
	// period apart, which bounds how stale the models serving replicas
	// adopt can get, at the cost of rewriting the embedding tables.
	FullCheckpointEvery Duration `json:"full_checkpoint_every"`
	// KeepVersions is how many of the newest model versions the trainer
	// keeps in the registry (default 20); older ones are deleted unless
	// they are the champion or in its rollback history.
	KeepVersions int `json:"keep_versions"`
	// Kafka, if set, consumes a shop's Kafka topics of JSON events into
	// the log through a declarative mapping (see package kafka and
	// docs/kafka.md), committing offsets only after the events are in
	// the log. Roles all and train run it; a replica does not.
	Kafka *kafka.Config `json:"kafka,omitempty"`

	// Logger receives lifecycle messages; nil discards them. Not in JSON.
	Logger *slog.Logger `json:"-"`
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// UnmarshalText parses a Go duration ("30m", "10s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Validate reports the first invalid setting, naming its key.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("engine: config: data_dir is required")
	case c.Sync != "" && c.Sync != "always" && c.Sync != "interval" && c.Sync != "never":
		return fmt.Errorf("engine: config: sync %q: want always, interval or never", c.Sync)
	case c.Horizon < 0:
		return fmt.Errorf("engine: config: horizon %v must be ≥ 0", time.Duration(c.Horizon))
	case c.Window < 0:
		return fmt.Errorf("engine: config: window %d must be ≥ 0", c.Window)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("engine: config: checkpoint_every %d must be ≥ 0", c.CheckpointEvery)
	case c.PublishEvery < 0:
		return fmt.Errorf("engine: config: publish_every %d must be ≥ 0", c.PublishEvery)
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("engine: config: max_body_bytes %d must be ≥ 0", c.MaxBodyBytes)
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("engine: config: tls_cert_file and tls_key_file go together")
	case c.RateLimit < 0 || c.RateBurst < 0:
		return fmt.Errorf("engine: config: rate_limit %v and rate_burst %d must be ≥ 0", c.RateLimit, c.RateBurst)
	case c.DeltaCheckpoints < -1:
		return fmt.Errorf("engine: config: delta_checkpoints %d must be ≥ -1", c.DeltaCheckpoints)
	case c.KeepVersions < 0:
		return fmt.Errorf("engine: config: keep_versions %d must be ≥ 0", c.KeepVersions)
	case c.Role != "" && c.Role != RoleAll && c.Role != RoleTrain && c.Role != RoleServe:
		return fmt.Errorf("engine: config: role %q: want all, train or serve", c.Role)
	case c.Registry != "" && c.Registry != "dir" && c.Registry != "nats":
		return fmt.Errorf("engine: config: registry %q: want dir or nats", c.Registry)
	case c.Registry == "nats" && c.Log == "":
		return errors.New("engine: config: registry nats needs a NATS log (log: nats://…)")
	case c.Role == RoleServe && (c.Log == "" || c.Registry == "dir"):
		return errors.New("engine: config: role serve needs a NATS log and registry that a trainer shares (log: nats://…)")
	}
	if c.Kafka != nil {
		if err := c.Kafka.Validate(); err != nil {
			return fmt.Errorf("engine: config: %v", err)
		}
	}
	for _, h := range c.Hidden {
		if h < 1 || h > 4096 {
			return fmt.Errorf("engine: config: hidden layer width %d out of [1, 4096]", h)
		}
	}
	if _, err := serve.ParseKeys(c.Keys); c.Keys != "" && err != nil {
		return fmt.Errorf("engine: config: keys: %v", err)
	}
	return nil
}

// The roles of Config.Role.
const (
	RoleAll   = "all"
	RoleTrain = "train"
	RoleServe = "serve"
)

// Engine is Perpetua running embedded in one process.
type Engine struct {
	cfg    Config
	logger *slog.Logger
	log    eventlog.Log
	seg    *eventlog.SegmentLog // the embedded log, or nil on NATS
	ingest *ingest.Ingester
	runner *continual.Runner
	server *serve.Server
	kafka  *kafka.Source // nil without Config.Kafka
	// kafkaStop ends the Kafka source; kafkaDone is closed when it has.
	kafkaStop context.CancelFunc
	kafkaDone chan struct{}

	// The shop-facing services, fed from the log by follow.
	recommend *recommend.Service
	supply    *supply.Service
	risk      *risk.Service
	follow    *follower
	models    *models // the registry and what serves
	board     *board
	travel    *travel
	dash      *dashboard.Recorder
	dashStop  context.CancelFunc // ends the dashboard's sampling and its event streams
	dashDone  chan struct{}      // closed when the recorder has stopped
	registry  *prometheus.Registry

	shutdownOnce sync.Once
	shutdownErr  error
	runCtxCancel context.CancelFunc
}

// Learners returns the purchase-task learners the engine trains, the
// champion first: the source document's MLP and a logistic baseline.
func Learners(hidden []int, seed uint64) []continual.Learner {
	if seed == 0 {
		seed = 1
	}
	return []continual.Learner{
		{Name: "mlp", New: func() (continual.Model, error) {
			// 0.003: on the simulated shop, 0.001 adapted too slowly after a shift
			// and 0.01 was noisier (prequential log loss 0.555, 0.545, 0.555).
			return mlp.New(continual.PurchaseDim, mlp.Config{Hidden: hidden, Seed: seed, LearnRate: 0.003})
		}},
		{Name: "logistic", New: func() (continual.Model, error) {
			return linear.New(continual.PurchaseDim, linear.Config{}), nil
		}},
		// The large model on the purchase schema: user, item, hour and
		// weekday embeddings (IDs get a row after 2 sightings and lose it
		// after 30 idle days of event time) with the behaviour features.
		{Name: "deep", NewSparse: func(s *feature.Schema) (continual.SparseModel, error) {
			return deep.New(s, DeepConfig(seed))
		}, Freeze: func(m continual.SparseModel) continual.SparseScorer { return m.(*deep.Model).Freeze() }},
	}
}

// DeepConfig is the purchase task's wide & deep model.
func DeepConfig(seed uint64) deep.Config {
	// Small steps for the rows (0.003) and the wide part (α 0.01): on
	// the small simulated shop (20,000 visits) the defaults (0.05, 0.1)
	// gave a prequential log loss of 0.629, these 0.518 (MLP on the
	// behaviour features alone: 0.474), and the best window at the end
	// (0.437 vs the MLP's 0.454). An ID gets its row on its second
	// sighting, so one-off IDs cost no row: on sim.World (3 days, 10,000
	// users) that admits half the item×hour crosses and scores as well as
	// admitting at first sight (window log loss 0.155 vs 0.157; MLP 0.168;
	// TestDeepOnWorld). It needs the default row untrained (the
	// embed.Config.LearnDefault default): trained, it learned from the
	// label-biased first examples of new IDs and the model scored 2.74.
	return deep.Config{
		EmbedDim:  8,
		Hidden:    []int{32, 16},
		WideAlpha: 0.01,
		Seed:      seed,
		Embed:     embed.Config{AdmitAfter: 2, LearnRate: 0.003, ExpireAfter: 30 * 24 * 3600},
	}
}

// New opens the data dir and builds the engine. It does not start serving.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	keys, err := serve.KeysFromEnv()
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if cfg.Keys != "" {
		more, _ := serve.ParseKeys(cfg.Keys)
		keys = append(keys, more...)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("engine: data dir: %w", err)
	}
	sync := eventlog.SyncAlways
	switch cfg.Sync {
	case "interval":
		sync = eventlog.SyncInterval
	case "never":
		sync = eventlog.SyncNever
	}
	var lg eventlog.Log
	var seg *eventlog.SegmentLog
	if cfg.Log == "" {
		if seg, err = eventlog.Open(filepath.Join(cfg.DataDir, "log"), eventlog.Options{Sync: sync}); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		if rec := seg.Recovery(); rec.TruncatedBytes > 0 {
			logger.Warn("log recovery cut a torn tail", "bytes", rec.TruncatedBytes, "end", rec.End)
		}
		lg = seg
	} else {
		opts, err := natslog.ParseURL(cfg.Log)
		if err != nil {
			return nil, fmt.Errorf("engine: log: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		nl, err := natslog.Open(ctx, opts)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("engine: log: %w", err)
		}
		lg = nl
	}
	e := &Engine{cfg: cfg, logger: logger, log: lg, seg: seg, registry: prometheus.NewRegistry()}
	fail := func(err error) (*Engine, error) {
		lg.Close()
		return nil, err
	}
	e.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in, err := ingest.New(lg, ingest.Options{MaxBodyBytes: cfg.MaxBodyBytes, Registerer: e.registry, Logger: logger})
	if err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	e.ingest = in
	var reg *registry.Registry
	if nl, ok := lg.(*natslog.Log); ok && cfg.Registry != "dir" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		store, err := registry.OpenNATSStore(ctx, nl.JetStream(), "", nl.Replicas())
		cancel()
		if err == nil {
			reg, err = registry.New(context.Background(), store, "nats:"+registry.DefaultBucket)
		}
		if err != nil {
			return fail(fmt.Errorf("engine: %w", err))
		}
	} else if reg, err = registry.Open(filepath.Join(cfg.DataDir, "registry")); err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	role := cfg.Role
	if role == "" {
		role = RoleAll
	}
	keep := cfg.KeepVersions
	if keep == 0 {
		keep = 20
	}
	e.models = &models{reg: reg, logger: logger, features: role == RoleTrain, keep: keep,
		pending: make(chan continual.CheckpointInfo, 1)}
	ckptDir, onCkpt := filepath.Join(cfg.DataDir, "checkpoints"), e.models.onCheckpoint
	if role == RoleServe {
		ckptDir, onCkpt = "", nil
	}
	e.runner, err = continual.New(lg, Learners(cfg.Hidden, cfg.Seed), continual.Config{
		Follow:              role == RoleServe,
		OnCheckpoint:        onCkpt,
		Dir:                 ckptDir,
		Horizon:             time.Duration(cfg.Horizon),
		Window:              cfg.Window,
		CheckpointEvery:     cfg.CheckpointEvery,
		CheckpointInterval:  time.Duration(cfg.CheckpointInterval),
		PublishEvery:        cfg.PublishEvery,
		DeltaCheckpoints:    cfg.DeltaCheckpoints,
		FullCheckpointEvery: time.Duration(cfg.FullCheckpointEvery),
		Logger:              logger,
	})
	if err != nil {
		return fail(err)
	}
	e.models.runner = e.runner
	if cfg.Kafka != nil && role != RoleServe {
		e.kafka, err = kafka.New(*cfg.Kafka, lg, kafka.Options{OnInvalid: func(re *kafka.RecordError) {
			logger.Warn("kafka: invalid record skipped", "topic", re.Topic, "partition", re.Partition, "offset", re.Offset, "err", re.Err)
		}})
		if err != nil {
			return fail(fmt.Errorf("engine: %w", err))
		}
	}
	if role == RoleServe {
		if err := e.models.bootstrap(context.Background()); err != nil { // bounded by the registry's timeouts
			return fail(fmt.Errorf("engine: %w", err))
		}
	}
	e.models.restore(context.Background())
	if err := e.runner.Register(e.registry); err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	if seg != nil {
		e.registry.MustRegister(newLogCollector(seg))
	}
	e.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "perpetua_services_refused_events_total",
		Help: "Log events a shop-facing service refused (e.g. a label for an unknown transaction); they change nothing in that service.",
	}, func() float64 { return float64(e.follow.bad.Load()) }))
	e.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "perpetua_services_lag_records",
		Help: "Log records known to this server but not yet applied to the shop-facing services (recommendations, supply, risk); at start-up, the replay still to do. On a shared NATS log, records other servers append count once this server has read them.",
	}, func() float64 {
		if end, off := e.log.End(), e.follow.offset.Load(); end > off {
			return float64(end - off)
		}
		return 0
	}))
	e.recommend, err = recommend.New(recommend.Config{Seed: cfg.Seed},
		&purchaseScorer{runner: e.runner, online: recommend.NewOnlineScorer()})
	if err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	if e.supply, err = supply.NewService(supply.ServiceConfig{}); err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	if e.risk, err = risk.New(risk.Config{}); err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	e.board = newBoard()
	e.board.dayAhead = func(sku string, day time.Time) (float64, bool) {
		fc, err := e.supply.Forecast(sku, 2)
		if err != nil {
			return 0, false
		}
		for _, pt := range fc.Points {
			if pt.Start.Equal(day) {
				return pt.Forecast, true
			}
		}
		return 0, false
	}
	e.travel = &travel{}
	e.models.onSwap = e.board.mark
	e.follow = &follower{log: lg, logger: logger,
		observers: []observer{recommendObserver{e.recommend}, supplyObserver{e.supply}, riskObserver{e.risk, e.board.scored}, boardObserver{e.board}, e.travel}}
	if seg == nil {
		// A shared log (NATS): other servers append to it too. Their ids
		// join this ingest's duplicate window as the follower reads them,
		// so a client retrying an event on another server is told it is
		// a duplicate.
		e.follow.observers = append(e.follow.observers, dedupeObserver{in})
	}
	e.dash = dashboard.NewRecorder(e, dashboard.Options{})
	e.dashDone = make(chan struct{})
	dashRoute := serve.Route{Pattern: "GET /dashboard/", Handler: http.StripPrefix("/dashboard", e.dash)}
	var tlsCfg *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fail(fmt.Errorf("engine: TLS: %w", err))
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	health := func() error {
		if seg != nil {
			if err := seg.Err(); err != nil {
				return fmt.Errorf("the event log refuses appends until restart: %w", err)
			}
		}
		// Not ready before the services have applied the log as it stood
		// at start: recommendations, stock and risk would be answered from
		// half-rebuilt state.
		return e.follow.starting()
	}
	e.server, err = serve.New(serve.Options{
		Health:     health,
		TLS:        tlsCfg,
		RateLimit:  cfg.RateLimit,
		RateBurst:  cfg.RateBurst,
		Pprof:      cfg.Pprof,
		Routes:     append(serviceRoutes(in, e.recommend, e.supply, e.risk, e.board.scored, logger), append(e.models.routes(logger), dashRoute, routesRoute(e.travel, e.board.planned, logger))...),
		Addr:       cfg.Addr,
		Ingest:     in,
		Log:        lg,
		Scorer:     scorer{e.runner},
		Keys:       keys,
		Registerer: e.registry,
		Gatherer:   e.registry,
		Logger:     logger,
		BeforeHTTPStop: []func(context.Context) error{
			e.stopKafka, e.stopIngest, e.stopRunner, e.stopDashboard,
		},
	})
	if err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	return e, nil
}

// Runner returns the learning loop (for in-process monitoring and tests).
func (e *Engine) Runner() *continual.Runner { return e.runner }

// Log returns the event log.
func (e *Engine) Log() eventlog.Log { return e.log }

// Ready reports whether the engine serves traffic.
func (e *Engine) Ready() bool { return e.server.Ready() }

// Addr returns the HTTP listen address once serving, else nil.
func (e *Engine) Addr() net.Addr { return e.server.Addr() }

// Run rebuilds the ingest dedupe state from the log, then serves HTTP and
// runs the learning loop until ctx is done, and then shuts down in the
// documented order. ln may be nil, in which case Run listens on
// Config.Addr.
func (e *Engine) Run(ctx context.Context, ln net.Listener) error {
	if err := e.ingest.Rebuild(ctx); err != nil {
		return fmt.Errorf("engine: rebuild ingest dedupe state: %w", err)
	}
	e.follow.startEnd.Store(e.log.End()) // /readyz waits for the services to reach it
	if ln == nil {
		addr := e.cfg.Addr
		if addr == "" {
			addr = serve.DefaultAddr
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("engine: listen: %w", err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.runCtxCancel = cancel
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return e.runner.Run(runCtx) })
	g.Go(func() error { return e.follow.run(gctx) })
	g.Go(func() error { return e.models.watch(gctx) })
	g.Go(func() error { return e.models.publishLoop(runCtx) }) // runCtx: ends after the runner's final checkpoint
	if e.kafka != nil {
		kctx, kstop := context.WithCancel(gctx)
		e.kafkaStop, e.kafkaDone = kstop, make(chan struct{})
		g.Go(func() error {
			defer close(e.kafkaDone)
			if err := e.kafka.Run(kctx); err != nil {
				return fmt.Errorf("engine: %w", err)
			}
			return nil
		})
	}
	dashCtx, dashStop := context.WithCancel(gctx)
	e.dashStop = dashStop
	g.Go(func() error {
		defer close(e.dashDone)
		return e.runDashboard(dashCtx)
	})
	// Serve (and so become ready) only once the loop has begun, so that a
	// shutdown, which asks the loop to drain, always finds it running.
	select {
	case <-e.runner.Started():
	case <-ctx.Done():
	}
	g.Go(func() error {
		err := e.server.Serve(gctx, ln)
		if errors.Is(err, serve.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer scancel()
		return e.Shutdown(sctx)
	})
	err := g.Wait()
	if cerr := e.log.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("engine: close log: %w", cerr)
	}
	return err
}

// Shutdown drains the engine in the documented order. It is idempotent.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.shutdownOnce.Do(func() {
		e.shutdownErr = e.server.Shutdown(ctx)
		if e.runCtxCancel != nil {
			e.runCtxCancel()
		}
	})
	return e.shutdownErr
}

// stopKafka ends the Kafka source before ingest stops: what it appended
// is in the log, and its offsets are committed up to that.
func (e *Engine) stopKafka(ctx context.Context) error {
	if e.kafkaStop == nil {
		return nil
	}
	e.kafkaStop()
	select {
	case <-e.kafkaDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// KafkaStats returns the Kafka source's counters (zero without one).
func (e *Engine) KafkaStats() kafka.Stats {
	if e.kafka == nil {
		return kafka.Stats{}
	}
	return e.kafka.Stats()
}

func (e *Engine) stopIngest(ctx context.Context) error {
	return e.ingest.Shutdown(ctx) // refuses new batches, waits for in-flight appends
}

func (e *Engine) stopRunner(ctx context.Context) error {
	return e.runner.Stop(ctx)
}

// stopDashboard ends the dashboard's live streams before HTTP stops (an
// open stream would hold the HTTP shutdown).
func (e *Engine) stopDashboard(ctx context.Context) error {
	if e.dashStop == nil {
		return nil
	}
	e.dashStop()
	select {
	case <-e.dashDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pairBufs recycles the per-request conversion of serve.Pair to
// continual.Pair, so scoring does not allocate in steady state.
var pairBufs = sync.Pool{New: func() any { return new([]continual.Pair) }}

// scorer adapts the runner to serve.PurchaseScorer.
type scorer struct{ r *continual.Runner }

func (s scorer) ScorePurchase(ctx context.Context, model string, pairs []serve.Pair, dst []float64) (serve.ModelInfo, error) {
	buf := pairBufs.Get().(*[]continual.Pair)
	defer pairBufs.Put(buf)
	ps := (*buf)[:0]
	for _, p := range pairs {
		ps = append(ps, continual.Pair{UserID: p.UserID, ItemID: p.ItemID})
	}
	*buf = ps
	defer clear(ps) // do not keep the request's strings alive in the pool
	pub, name, err := s.r.ScorePurchase(ctx, model, ps, dst)
	switch {
	case errors.Is(err, continual.ErrNoModel):
		return serve.ModelInfo{}, serve.ErrNoModel
	case errors.Is(err, continual.ErrUnknownModel):
		return serve.ModelInfo{}, fmt.Errorf("%w %q", serve.ErrUnknownModel, model)
	case err != nil:
		return serve.ModelInfo{}, err
	}
	return serve.ModelInfo{Model: name, Version: pub.Version}, nil
}

// Close releases the engine's resources when Run was never called. After
// Run, the log is closed by Run itself; Close is then a no-op.
func (e *Engine) Close() error {
	err := e.log.Close()
	if errors.Is(err, eventlog.ErrClosed) {
		return nil
	}
	return err
}
