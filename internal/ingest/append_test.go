package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

func TestAppendInProcess(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(id string) event.Event {
		return event.Event{ID: id, Type: event.TypeView, Timestamp: ts, UserID: "u1", ItemID: "i1"}
	}
	ctx := context.Background()
	if w, d, err := in.Append(ctx, []event.Event{ev("a"), ev("b")}); err != nil || w != 2 || d != 0 {
		t.Fatalf("Append(a, b) = %d, %d, %v; want 2, 0, nil", w, d, err)
	}
	// Ids shared with HTTP ingest are deduplicated both ways.
	expect(t, "http after append", post(in, ndjson("b", "c")), 202, `{"accepted":1,"duplicates":1,"first_offset":2}`)
	if w, d, err := in.Append(ctx, []event.Event{ev("c"), ev("d")}); err != nil || w != 1 || d != 1 {
		t.Fatalf("Append(c, d) = %d, %d, %v; want 1, 1, nil", w, d, err)
	}
	// An invalid event rejects the whole batch and writes nothing.
	bad := ev("e")
	bad.UserID = ""
	if _, _, err := in.Append(ctx, []event.Event{ev("f"), bad}); err == nil || !strings.Contains(err.Error(), `event 1 (id "e")`) {
		t.Fatalf("Append with an invalid event = %v; want an error naming event 1", err)
	}
	if got := strings.Join(ids(t, lg.records()), ","); got != "a,b,c,d" {
		t.Fatalf("log ids = %s; want a,b,c,d", got)
	}
	in.Stop()
	if _, _, err := in.Append(ctx, []event.Event{ev("g")}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Append after Stop = %v; want ErrStopped", err)
	}
}
