package eventlog_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "eventlog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := eventlog.Open(dir, eventlog.Options{}) // SyncAlways, 64 MiB segments
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()

	first, err := l.Append(ctx, [][]byte{[]byte(`{"type":"view"}`), []byte(`{"type":"purchase"}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first offset:", first)

	r, err := l.NewReader(0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next(ctx)
		if err == io.EOF {
			break // r.Wait(ctx) would block until more is appended
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %s\n", rec.Offset, rec.Data)
	}

	if err := l.Commit(ctx, "trainer", l.End()); err != nil {
		log.Fatal(err)
	}
	next, err := l.Committed(ctx, "trainer")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trainer resumes at:", next)
	// Output:
	// first offset: 0
	// 0 {"type":"view"}
	// 1 {"type":"purchase"}
	// trainer resumes at: 2
}
