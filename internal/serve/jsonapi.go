package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
)

// The shop-facing services (recommendations, risk, forecasts, routes)
// answer JSON requests with JSON. JSON and Query adapt a Go function to
// such an endpoint with the same rules as the built-in routes: body size
// limit (413), media type (415), strict decoding (400 naming the problem),
// errors mapped to statuses, and no internal error text in 5xx answers.

// Error is an error with the HTTP status it should be answered with. A
// service function returns it (or wraps it) for the caller's mistakes.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// BadRequest marks err as the client's fault (400).
func BadRequest(err error) error { return &Error{Code: http.StatusBadRequest, Err: err} }

// NotFound marks err as naming something that does not exist (404).
func NotFound(err error) error { return &Error{Code: http.StatusNotFound, Err: err} }

// Conflict marks err as a conflict with the current state (409), e.g.
// feedback given twice.
func Conflict(err error) error { return &Error{Code: http.StatusConflict, Err: err} }

// Unavailable marks err as a temporary inability to answer (503), e.g.
// no model yet. Its message is shown to the client, like every *Error's
// but a 500's.
func Unavailable(err error) error { return &Error{Code: http.StatusServiceUnavailable, Err: err} }

// DefaultMaxJSONBody caps the bodies of JSON service endpoints.
const DefaultMaxJSONBody = 4 << 20

// JSON returns a handler that decodes the request body into a new Req,
// calls fn, and answers 200 with fn's result as JSON. Decoding is strict:
// unknown fields, trailing data and wrong types are 400 with the decoder's
// message; a body over maxBody bytes is 413 (maxBody ≤ 0 means
// DefaultMaxJSONBody); a Content-Type other than JSON is 415. An error
// from fn is answered with its *Error status and message, or else 500
// "internal error" (and logged to logger, which may be nil).
func JSON[Req, Resp any](maxBody int64, logger *slog.Logger, fn func(ctx context.Context, req *Req) (Resp, error)) http.Handler {
	if maxBody <= 0 {
		maxBody = DefaultMaxJSONBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
			writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
		if r.ContentLength > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(maxBody, 10)+" bytes")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "reading request body failed")
			return
		}
		if int64(len(body)) > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(maxBody, 10)+" bytes")
			return
		}
		req := new(Req)
		if err := decodeStrict(body, req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		resp, err := fn(r.Context(), req)
		respond(w, r, logger, resp, err)
	})
}

// Query returns a handler for a GET endpoint: fn gets the URL query and
// its result is answered as JSON, with errors mapped as JSON's.
func Query[Resp any](logger *slog.Logger, fn func(ctx context.Context, q url.Values) (Resp, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, http.StatusBadRequest, "query: "+err.Error())
			return
		}
		resp, err := fn(r.Context(), q)
		respond(w, r, logger, resp, err)
	})
}

func respond[Resp any](w http.ResponseWriter, r *http.Request, logger *slog.Logger, resp Resp, err error) {
	if err != nil {
		var he *Error
		switch {
		case errors.As(err, &he) && he.Code != http.StatusInternalServerError:
			writeError(w, he.Code, err.Error())
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			writeError(w, http.StatusServiceUnavailable, "request cancelled or timed out")
		default:
			if logger != nil {
				logger.Error("service request failed", "path", r.URL.Path, "err", err)
			}
			writeError(w, http.StatusInternalServerError, "internal error")
		}
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		if logger != nil {
			logger.Error("encoding response failed", "path", r.URL.Path, "err", err)
		}
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: trailing data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON: trailing data after the object")
	}
	return nil
}
