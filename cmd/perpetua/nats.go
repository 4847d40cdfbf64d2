package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
)

// cmdNATS runs a NATS server with JetStream file storage on loopback, for
// a trainer and serving replicas on one machine (docs/nats.md) when no
// NATS deployment exists yet. It runs until interrupted.
func cmdNATS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("nats", stderr)
	dir := fs.String("dir", "", "JetStream store directory (required)")
	addr := fs.String("addr", "127.0.0.1:4222", "client listen address; loopback only (port 0 picks a free one)")
	syncAlways := fs.Bool("sync-always", false, "fsync every JetStream write before acknowledging it")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("nats: --dir is required")
	}
	host, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("nats: --addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("nats: --addr %q: this server has no authentication; it listens on loopback only (use a real NATS deployment beyond one machine)", *addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return usagef("nats: --addr %q: bad port", *addr)
	}
	if port == 0 {
		port = -1
	}
	srv, err := natslog.StartServer(natslog.ServerConfig{Dir: *dir, ClientPort: port, SyncAlways: *syncAlways})
	if err != nil {
		return err
	}
	// The first stdout line tells scripts (and tests) the URL.
	fmt.Fprintf(stdout, "perpetua: nats listening on %s (store %s)\n", srv.ClientURL(), *dir)
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
