package natslog_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
)

// Example opens a log on an embedded JetStream server (no port opened),
// appends a batch and reads it back.
func Example() {
	dir, err := os.MkdirTemp("", "natslog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts, err := natslog.ParseURL("nats+embedded://" + dir + "?stream=SHOP")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	l, err := natslog.Open(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	first, err := l.Append(ctx, [][]byte{[]byte(`{"id":"e1"}`), []byte(`{"id":"e2"}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first offset", first, "end", l.End())
	r, err := l.NewReader(0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for range 2 {
		rec, err := r.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %s\n", rec.Offset, rec.Data)
	}
	// Output:
	// first offset 0 end 2
	// 0 {"id":"e1"}
	// 1 {"id":"e2"}
}
