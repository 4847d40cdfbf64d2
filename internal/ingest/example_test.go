package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/ingest"
)

func Example() {
	dir, _ := os.MkdirTemp("", "ingest-example")
	defer os.RemoveAll(dir)
	lg, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lg.Close()

	in, err := ingest.New(lg, ingest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := in.Rebuild(context.Background()); err != nil { // before serving
		fmt.Println(err)
		return
	}
	body := `{"id":"e1","type":"view","timestamp":"2024-05-01T12:00:00Z","user_id":"u1","item_id":"i1"}
{"id":"e2","type":"purchase","timestamp":"2024-05-01T12:01:00Z","user_id":"u1","item_id":"i1","price":9.5}
`
	for range 2 { // the second post is a client retry
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		in.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	w := httptest.NewRecorder()
	in.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(`{"id":"e3","type":"view"}`)))
	fmt.Print(w.Code, " ", w.Body.String())

	// Graceful shutdown: stop ingest first, then flush the log, then stop HTTP.
	if err := in.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 202 {"accepted":2,"duplicates":0,"first_offset":0}
	// 202 {"accepted":0,"duplicates":2}
	// 400 {"error":"invalid batch","errors":[{"line":1,"field":"timestamp","reason":"required"},{"line":1,"field":"user_id","reason":"required"},{"line":1,"field":"item_id","reason":"required"}]}
}
