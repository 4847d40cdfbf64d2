package natslog_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/eventlog/eventlogtest"
	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
)

// startCluster starts three embedded servers forming a JetStream cluster.
// Routes need TCP: each node listens on free 127.0.0.1 ports for routes
// and clients (nats-server routes only once its client listener runs);
// the test connects in-process all the same.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	// JetStream clustering needs configured routes on every node, so pick
	// three free ports first and give each node the full list.
	ports := make([]int, 3)
	var routes []string
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	nodes := make([]*server.Server, 3)
	errc := make(chan error, 3)
	for i := range nodes {
		go func() { // nodes wait for each other's routes while starting
			s, err := natslog.StartServer(natslog.ServerConfig{
				Dir:          t.TempDir(),
				Name:         fmt.Sprintf("n%d", i+1),
				ClusterName:  "perpetua-test",
				ClusterPort:  ports[i],
				Routes:       routes,
				ReadyTimeout: 30 * time.Second,
			})
			nodes[i] = s
			errc <- err
		}()
	}
	var err error
	for range nodes {
		if e := <-errc; e != nil {
			err = e
		}
	}
	for _, s := range nodes {
		if s != nil {
			t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		}
	}
	if err != nil {
		t.Fatalf("StartServer = %v; want nil", err)
	}
	// Wait for the JetStream meta group to elect a leader.
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, s := range nodes {
			if s.JetStreamIsLeader() {
				return nodes
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no JetStream meta leader within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openR3 opens an R3 log through node, retrying while the cluster settles.
func openR3(t *testing.T, node *server.Server, stream string) *natslog.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		l, err := natslog.Open(ctx, natslog.Options{Server: node, Stream: stream, Subject: "events." + stream, Replicas: 3})
		if err == nil {
			return l
		}
		if ctx.Err() != nil {
			t.Fatalf("Open(R3 stream %s) = %v; want nil", stream, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCluster runs the conformance suite on R3 streams of a three-node
// in-process cluster, then stops a node and keeps appending on the
// remaining quorum.
func TestCluster(t *testing.T) {
	if (testing.Short() || raceEnabled) && os.Getenv("PERPETUA_LONG") == "" {
		t.Skip("-short or -race: the three-node cluster takes 5-20 s (set PERPETUA_LONG=1 to run it anyway)")
	}
	nodes := startCluster(t)
	n := 0
	eventlogtest.Run(t, func(t *testing.T) eventlog.Log {
		n++
		return openR3(t, nodes[n%3], fmt.Sprintf("R3_%d", n))
	})

	t.Run("NodeLoss", func(t *testing.T) {
		l := openR3(t, nodes[0], "LOSS")
		defer l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var want []string
		appendN := func(tag string, k int) {
			t.Helper()
			batch := make([][]byte, k)
			for i := range batch {
				batch[i] = fmt.Appendf(nil, "%s-%d", tag, i)
				want = append(want, string(batch[i]))
			}
			for {
				first, err := l.Append(ctx, batch)
				if err == nil {
					if first != uint64(len(want)-k) {
						t.Fatalf("Append(%s) first = %d; want %d", tag, first, len(want)-k)
					}
					return
				}
				if ctx.Err() != nil {
					t.Fatalf("Append(%s) = %v; want nil within 60s", tag, err)
				}
				time.Sleep(100 * time.Millisecond) // a new stream leader is being elected
			}
		}
		appendN("before", 50)
		nodes[2].Shutdown()
		nodes[2].WaitForShutdown()
		appendN("after", 50)
		r, err := l.NewReader(0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i, w := range want {
			rec, err := r.Next(ctx)
			if err != nil || string(rec.Data) != w || rec.Offset != uint64(i) {
				t.Fatalf("Next = {%d %q}, %v; want {%d %q}, nil", rec.Offset, rec.Data, err, i, w)
			}
		}
		if _, err := r.Next(ctx); err != io.EOF {
			t.Fatalf("Next at the end = %v; want io.EOF", err)
		}
	})
}
