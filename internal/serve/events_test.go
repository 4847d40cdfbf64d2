package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

func TestEventsReadBack(t *testing.T) {
	lg := &fakeLog{}
	for i := 0; i < 5; i++ {
		lg.append(fmt.Sprintf(`{"id":"e%d","type":"view","timestamp":"2024-01-01T00:00:0%dZ","user_id":"u\"%d"}`, i, i, i))
	}
	s := newTestServer(t, Options{Log: lg})
	ev := func(i int) string {
		return fmt.Sprintf(`{"offset":%d,"event":{"id":"e%d","type":"view","timestamp":"2024-01-01T00:00:0%dZ","user_id":"u\"%d"}}`, i, i, i, i)
	}
	tests := []struct {
		target   string
		wantCode int
		wantBody string
	}{
		{"/v1/events", 200, `{"events":[` + ev(0) + "," + ev(1) + "," + ev(2) + "," + ev(3) + "," + ev(4) + `],"next":5,"end":5}`},
		{"/v1/events?from=3", 200, `{"events":[` + ev(3) + "," + ev(4) + `],"next":5,"end":5}`},
		{"/v1/events?from=1&limit=2", 200, `{"events":[` + ev(1) + "," + ev(2) + `],"next":3,"end":5}`},
		{"/v1/events?limit=1", 200, `{"events":[` + ev(0) + `],"next":1,"end":5}`},
		{"/v1/events?from=5", 200, `{"events":[],"next":5,"end":5}`},
		{"/v1/events?limit=10000", 200, `{"events":[` + ev(0) + "," + ev(1) + "," + ev(2) + "," + ev(3) + "," + ev(4) + `],"next":5,"end":5}`},
		{"/v1/events?from=6", 416, `{"error":"from: offset 6 is beyond the end of the log (5)"}`},
		{"/v1/events?from=-1", 400, `{"error":"from: must be a log offset (a non-negative integer)"}`},
		{"/v1/events?from=abc", 400, `{"error":"from: must be a log offset (a non-negative integer)"}`},
		{"/v1/events?from=1&from=2", 400, `{"error":"from: must be a log offset (a non-negative integer)"}`},
		{"/v1/events?limit=0", 400, `{"error":"limit: must be an integer from 1 to 10000"}`},
		{"/v1/events?limit=10001", 400, `{"error":"limit: must be an integer from 1 to 10000"}`},
		{"/v1/events?limit=", 400, `{"error":"limit: must be an integer from 1 to 10000"}`},
		{"/v1/events?limit=%zz", 400, `{"error":"invalid query string"}`},
	}
	for _, tt := range tests {
		code, body, _ := do(s.Handler(), "GET", tt.target, "")
		if code != tt.wantCode || body != tt.wantBody {
			t.Errorf("GET %s = %d %s; want %d %s", tt.target, code, body, tt.wantCode, tt.wantBody)
		}
		if code == 200 && !json.Valid([]byte(body)) {
			t.Errorf("GET %s returned invalid JSON: %s", tt.target, body)
		}
	}
}

// TestEventsPaging reads a log to its end by following next, as a client does.
func TestEventsPaging(t *testing.T) {
	lg := &fakeLog{}
	const n = 23
	for i := 0; i < n; i++ {
		lg.append(fmt.Sprintf(`{"id":"e%d"}`, i))
	}
	s := newTestServer(t, Options{Log: lg})
	var got []string
	for next, pages := uint64(0), 0; ; pages++ {
		if pages > n {
			t.Fatalf("paging did not terminate")
		}
		code, body, _ := do(s.Handler(), "GET", fmt.Sprintf("/v1/events?from=%d&limit=5", next), "")
		if code != 200 {
			t.Fatalf("GET /v1/events?from=%d = %d %s", next, code, body)
		}
		var page struct {
			Events []struct {
				Offset uint64          `json:"offset"`
				Event  json.RawMessage `json:"event"`
			} `json:"events"`
			Next, End uint64
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("decoding page: %v (%s)", err, body)
		}
		for i, e := range page.Events {
			if e.Offset != next+uint64(i) {
				t.Errorf("page from %d: event %d has offset %d", next, i, e.Offset)
			}
			got = append(got, string(e.Event))
		}
		if page.Next == page.End {
			break
		}
		next = page.Next
	}
	if len(got) != n || got[0] != `{"id":"e0"}` || got[n-1] != fmt.Sprintf(`{"id":"e%d"}`, n-1) {
		t.Errorf("paged read returned %d events (%v); want %d in order", len(got), got, n)
	}
}

func TestEventsMaxBytes(t *testing.T) {
	lg := &fakeLog{}
	big := `{"id":"` + strings.Repeat("x", 200) + `"}`
	for i := 0; i < 10; i++ {
		lg.append(big)
	}
	s := newTestServer(t, Options{Log: lg, MaxEventsBytes: 700})
	code, body, _ := do(s.Handler(), "GET", "/v1/events", "")
	var page struct {
		Events []json.RawMessage
		Next   uint64
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil {
		t.Fatalf("GET /v1/events = %d %s (%v)", code, body, err)
	}
	if len(page.Events) == 0 || len(page.Events) >= 10 || page.Next != uint64(len(page.Events)) || len(body) > 700 {
		t.Errorf("GET /v1/events with MaxEventsBytes 700: %d events, next %d, %d bytes; want a short page within 700 bytes",
			len(page.Events), page.Next, len(body))
	}
	// A record bigger than the cap is still returned, alone, so readers progress.
	s = newTestServer(t, Options{Log: lg, MaxEventsBytes: 10})
	_, body, _ = do(s.Handler(), "GET", "/v1/events", "")
	if !strings.HasSuffix(body, `],"next":1,"end":10}`) {
		t.Errorf("GET /v1/events with MaxEventsBytes 10 = %s; want exactly one event", body)
	}
}

func TestEventsErrors(t *testing.T) {
	logger, logs := testLogger()
	tests := []struct {
		name     string
		log      EventLog
		wantCode int
		wantBody string
	}{
		{"no log", nil, 503, `{"error":"event log is not configured"}`},
		{"closed", &fakeLog{closed: true}, 503, `{"error":"event log is closed"}`},
		{"read error", &fakeLog{records: [][]byte{[]byte(`{}`)}, nextErr: errors.New("disk on fire")}, 500, `{"error":"internal error"}`},
		{"corrupt record", &fakeLog{records: [][]byte{[]byte(`{"id":`)}}, 500, `{"error":"internal error"}`},
		{"closed while reading", &fakeLog{records: [][]byte{[]byte(`{}`)}, nextErr: eventlog.ErrClosed}, 503, `{"error":"event log is closed"}`},
	}
	for _, tt := range tests {
		s := newTestServer(t, Options{Log: tt.log, Logger: logger})
		code, body, _ := do(s.Handler(), "GET", "/v1/events", "")
		if code != tt.wantCode || body != tt.wantBody {
			t.Errorf("%s: GET /v1/events = %d %s; want %d %s", tt.name, code, body, tt.wantCode, tt.wantBody)
		}
	}
	if l := logs.String(); !strings.Contains(l, "disk on fire") || !strings.Contains(l, "not valid JSON") {
		t.Errorf("internal causes not logged; log = %q", l)
	}
}
