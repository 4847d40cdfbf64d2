package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/perpetua-ml/perpetua/internal/engine"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", "", "JSON config file (keys as in engine.Config: data_dir, addr, sync, horizon, ...)")
	dataDir := fs.String("data-dir", "", "data directory for the log and checkpoints (default ./data)")
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8080); beyond loopback needs PERPETUA_API_KEYS")
	sync := fs.String("sync", "", "log fsync policy: always (default), interval, never")
	logURL := fs.String("log", "", "event log: empty for the embedded segment log, or nats://host:4222[,…][?stream=&replicas=3] (docs/nats.md)")
	role := fs.String("role", "", "all (default: train and serve), train (the one trainer), or serve (a stateless replica; needs --log nats://…)")
	reg := fs.String("registry", "", "where model versions live: dir (data dir) or nats (the log's NATS servers; the default with --log nats://)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg engine.Config
	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil {
			return usagef("--config: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return usagef("--config %s: %v", *configPath, err)
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if *addr != "" {
		cfg.Addr = *addr
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if *sync != "" {
		cfg.Sync = *sync
	}
	if *logURL != "" {
		cfg.Log = *logURL
	}
	if *role != "" {
		cfg.Role = *role
	}
	if *reg != "" {
		cfg.Registry = *reg
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	eng, err := engine.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		eng.Close()
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// The first stdout line tells scripts (and tests) where we listen.
	r := cfg.Role
	if r == "" {
		r = engine.RoleAll
	}
	fmt.Fprintf(stdout, "perpetua: listening on %s (data dir %s, role %s)\n", ln.Addr(), cfg.DataDir, r)
	logger.Info("serving", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "role", r)
	return eng.Run(ctx, ln)
}
