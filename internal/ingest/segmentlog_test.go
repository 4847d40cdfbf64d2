package ingest

import (
	"context"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// TestSegmentLog runs ingest against the real segment-file log across a
// restart: a client that retries a batch after the server restarted must
// get duplicates, not a second copy.
func TestSegmentLog(t *testing.T) {
	dir := t.TempDir()
	lg, err := eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := newIngester(t, lg, Options{})
	if err := in.Rebuild(context.Background()); err != nil {
		t.Fatalf("Rebuild of an empty log: %v", err)
	}
	expect(t, "first", post(in, ndjson("a", "b", "c")), 202, `{"accepted":3,"duplicates":0,"first_offset":0}`)
	expect(t, "invalid", post(in, ndjson("d")+"{"), 400,
		`{"error":"invalid batch","errors":[{"line":2,"field":"","reason":"malformed JSON at column 2: unexpected end of line (NDJSON needs one complete JSON object per line)"}]}`)
	if err := in.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := lg.Close(); err != nil {
		t.Fatal(err)
	}

	lg, err = eventlog.Open(dir, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	in = newIngester(t, lg, Options{})
	if err := in.Rebuild(context.Background()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	expect(t, "retry after restart", post(in, ndjson("a", "b", "c", "d")), 202, `{"accepted":1,"duplicates":3,"first_offset":3}`)
	if end := lg.End(); end != 4 {
		t.Errorf("log end = %d; want 4 (a b c d, no duplicates, nothing from the invalid batch)", end)
	}
	rd, err := lg.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for i, want := range []string{view("a"), view("b"), view("c"), view("d")} {
		rec, err := rd.Next(context.Background())
		if err != nil || string(rec.Data) != want {
			t.Errorf("record %d = %s, %v; want %s", i, rec.Data, err, want)
		}
	}
}
