package natslog

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultServerMaxBatch is the atomic batch limit, in messages, of a
// server started by StartServer: the stock nats-server's (jetstream {
// limits { batch { max_msgs } } }). An Append needs more than one message
// only beyond max_payload (1 MiB), so this allows batches of about 1 GB.
const DefaultServerMaxBatch = 1000

// ServerConfig configures an embedded NATS server with JetStream. The zero
// value (with Dir set) is a single in-process server that opens no port.
type ServerConfig struct {
	// Dir is the JetStream store directory. Required.
	Dir string
	// Name is the server name; it must be unique in a cluster. Empty
	// means one derived by the server.
	Name string
	// SyncAlways makes JetStream fsync every write before acknowledging
	// it (the server's sync_interval: always). Without it JetStream
	// fsyncs every two minutes: acknowledged appends survive a process
	// crash but a machine crash may lose the last two minutes.
	SyncAlways bool
	// ClientPort is the client listener's port on 127.0.0.1 (-1 picks a
	// free one). Zero means no client listener, only in-process
	// connections (Options.Server), except in a cluster: nats-server
	// starts routing only once its client listener runs, so a cluster
	// node gets a free loopback port instead.
	ClientPort int
	// Cluster, if set, joins a JetStream cluster: ClusterName names it,
	// ClusterPort is this node's route port on 127.0.0.1 (-1 for a free
	// one) and Routes lists the other nodes' route URLs
	// ("nats-route://127.0.0.1:6222").
	ClusterName string
	ClusterPort int
	Routes      []string
	// MaxBatch is the atomic batch limit in messages. Zero means
	// DefaultServerMaxBatch.
	MaxBatch int
	// ReadyTimeout bounds the wait for the server to accept connections.
	// Zero means 10 s.
	ReadyTimeout time.Duration
}

// StartServer starts an embedded NATS server with JetStream file storage in
// cfg.Dir and waits until it accepts connections. The caller owns the
// server: stop it with Shutdown and WaitForShutdown (a Log opened with
// Options.Server does not stop it). It installs no signal handlers and
// logs nothing.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("natslog: ServerConfig.Dir is required")
	}
	if cfg.MaxBatch < 0 {
		return nil, fmt.Errorf("natslog: ServerConfig.MaxBatch %d must not be negative", cfg.MaxBatch)
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultServerMaxBatch
	}
	if cfg.ClusterName != "" && cfg.ClientPort == 0 {
		cfg.ClientPort = -1
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		NoLog:      true,
		Host:       "127.0.0.1",
		Port:       cfg.ClientPort,
		DontListen: cfg.ClientPort == 0,
	}
	opts.JetStreamLimits.MaxBatchSize = cfg.MaxBatch
	if cfg.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: "127.0.0.1", Port: cfg.ClusterPort}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natslog: ServerConfig.Routes: %q: %v", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natslog: starting embedded server in %s: %v", cfg.Dir, err)
	}
	s.Start() // returns once the server runs; Shutdown stops the server's goroutines
	if !s.ReadyForConnections(cfg.ReadyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("natslog: embedded server in %s not ready within %v", cfg.Dir, cfg.ReadyTimeout)
	}
	return s, nil
}
