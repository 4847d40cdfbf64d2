package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// EventLog is the part of the event log GET /v1/events reads; every
// eventlog.Log satisfies it. Its methods are called concurrently; each
// request uses its own Reader.
type EventLog interface {
	// End returns the offset the next appended record will get.
	End() uint64
	// NewReader returns a Reader positioned at from; eventlog.ErrOutOfRange
	// if from > End().
	NewReader(from uint64) (eventlog.Reader, error)
}

var _ EventLog = eventlog.Log(nil)

// Limits of GET /v1/events.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 10000
)

// handleEvents serves GET /v1/events?from=OFFSET&limit=N:
//
//	{"events":[{"offset":0,"event":{…}}, …],"next":N,"end":E}
//
// from defaults to 0 and limit to 100 (1…10000). next is the offset to ask
// for next time; end is the log's end when the read finished, so a reader
// has caught up when next == end. from == end gives an empty list; from >
// end is 416 (a position the log never had, e.g. after the data dir was
// reset, must not be mistaken for "no new events"). The response stops
// early, at a record boundary, once it reaches Options.MaxEventsBytes (but
// always holds at least one record if any is available).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	lg := s.opts.Log
	if lg == nil {
		writeError(w, http.StatusServiceUnavailable, "event log is not configured")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid query string")
		return
	}
	from, ok := queryUint(q, "from", 0)
	if !ok {
		writeError(w, http.StatusBadRequest, "from: must be a log offset (a non-negative integer)")
		return
	}
	limit, ok := queryUint(q, "limit", DefaultEventsLimit)
	if !ok || limit < 1 || limit > MaxEventsLimit {
		writeError(w, http.StatusBadRequest, "limit: must be an integer from 1 to "+strconv.Itoa(MaxEventsLimit))
		return
	}

	end := lg.End()
	if from > end {
		writeError(w, http.StatusRequestedRangeNotSatisfiable, outOfRange(from, end))
		return
	}
	rd, err := lg.NewReader(from)
	switch {
	case err == nil:
	case errors.Is(err, eventlog.ErrOutOfRange):
		writeError(w, http.StatusRequestedRangeNotSatisfiable, outOfRange(from, lg.End()))
		return
	case errors.Is(err, eventlog.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "event log is closed")
		return
	default:
		s.log.Error("opening event log reader failed", "from", from, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	defer rd.Close()

	buf := make([]byte, 0, 4096)
	buf = append(buf, `{"events":[`...)
	next := from
	for n := uint64(0); n < limit; n++ {
		rec, err := rd.Next(r.Context())
		if err == io.EOF {
			break
		}
		if err != nil {
			switch {
			case errors.Is(err, eventlog.ErrClosed):
				writeError(w, http.StatusServiceUnavailable, "event log is closed")
			case r.Context().Err() != nil:
				writeError(w, http.StatusServiceUnavailable, "request cancelled")
			default:
				s.log.Error("reading event log failed", "offset", next, "err", err)
				writeError(w, http.StatusInternalServerError, "internal error")
			}
			return
		}
		if rec.Offset != next {
			s.log.Error("event log reader skipped offsets", "want", next, "got", rec.Offset)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if !json.Valid(rec.Data) {
			s.log.Error("event log record is not valid JSON", "offset", rec.Offset, "bytes", len(rec.Data))
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		if n > 0 && len(buf)+len(rec.Data)+64 > s.opts.MaxEventsBytes {
			break
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"offset":`...)
		buf = strconv.AppendUint(buf, rec.Offset, 10)
		buf = append(buf, `,"event":`...)
		buf = append(buf, rec.Data...)
		buf = append(buf, '}')
		next = rec.Offset + 1
	}
	end = max(end, lg.End(), next)
	buf = append(buf, `],"next":`...)
	buf = strconv.AppendUint(buf, next, 10)
	buf = append(buf, `,"end":`...)
	buf = strconv.AppendUint(buf, end, 10)
	buf = append(buf, '}')
	writeJSON(w, http.StatusOK, buf)
}

func outOfRange(from, end uint64) string {
	return "from: offset " + strconv.FormatUint(from, 10) + " is beyond the end of the log (" +
		strconv.FormatUint(end, 10) + ")"
}

// queryUint returns the decimal value of the single query parameter name,
// def if it is absent, and false if it is malformed or repeated.
func queryUint(q url.Values, name string, def uint64) (uint64, bool) {
	vs, ok := q[name]
	if !ok {
		return def, true
	}
	if len(vs) != 1 {
		return 0, false
	}
	v, err := strconv.ParseUint(vs[0], 10, 64)
	return v, err == nil
}
