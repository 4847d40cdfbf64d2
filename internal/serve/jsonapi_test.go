package serve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

type echoReq struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

type echoResp struct {
	Greeting string `json:"greeting"`
}

func echo(_ context.Context, r *echoReq) (echoResp, error) {
	switch r.Name {
	case "bad":
		return echoResp{}, BadRequest(errors.New("name: bad is not allowed"))
	case "gone":
		return echoResp{}, NotFound(errors.New("no such thing"))
	case "twice":
		return echoResp{}, Conflict(errors.New("already given"))
	case "busy":
		return echoResp{}, Unavailable(errors.New("not now"))
	case "boom":
		return echoResp{}, errors.New("database password is hunter2")
	}
	return echoResp{Greeting: strings.Repeat("hi ", r.N) + r.Name}, nil
}

func TestJSONHandler(t *testing.T) {
	h := JSON(64, nil, echo)
	for _, tc := range []struct {
		body, ct string
		code     int
		want     string
	}{
		{`{"name":"ann","n":1}`, "application/json", 200, `{"greeting":"hi ann"}`},
		{`{"name":"ann"}`, "", 200, `{"greeting":"ann"}`},
		{`{"name":"ann","x":1}`, "application/json", 400, `unknown field`},
		{`{"name":"ann"} {}`, "application/json", 400, `trailing data`},
		{`{"name":1}`, "application/json", 400, `invalid JSON`},
		{``, "application/json", 400, `empty body`},
		{`{"name":"` + strings.Repeat("a", 80) + `"}`, "application/json", 413, `exceeds 64 bytes`},
		{`name=ann`, "application/x-www-form-urlencoded", 415, `Content-Type`},
		{`{"name":"bad"}`, "", 400, `name: bad is not allowed`},
		{`{"name":"gone"}`, "", 404, `no such thing`},
		{`{"name":"twice"}`, "", 409, `already given`},
		{`{"name":"busy"}`, "", 503, `not now`},
		{`{"name":"boom"}`, "", 500, `internal error`},
	} {
		req := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("POST %q = %d %s; want %d containing %q", tc.body, rec.Code, rec.Body, tc.code, tc.want)
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("POST %q leaked an internal error: %s", tc.body, rec.Body)
		}
	}
}

func TestQueryHandler(t *testing.T) {
	h := Query(nil, func(_ context.Context, q url.Values) (echoResp, error) {
		if q.Get("sku") == "" {
			return echoResp{}, BadRequest(errors.New("sku: required"))
		}
		return echoResp{Greeting: q.Get("sku")}, nil
	})
	for _, tc := range []struct {
		target string
		code   int
		want   string
	}{
		{"/f?sku=a1", 200, `{"greeting":"a1"}`},
		{"/f", 400, `sku: required`},
		{"/f?sku=%zz", 400, `query:`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.target, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s = %d %s; want %d containing %q", tc.target, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
}

func TestRoutesOption(t *testing.T) {
	h := JSON(0, nil, echo)
	if _, err := New(Options{Routes: []Route{{Pattern: "POST /v1/events", Scope: ScopeIngest, Handler: h}}}); err == nil {
		t.Error("a route registered twice: no error")
	}
	if _, err := New(Options{Routes: []Route{{Pattern: "POST /v1/recommend", Scope: ScopeAdmin, Handler: h}}}); err == nil {
		t.Error("a route with another scope than ServiceRoutes': no error")
	}
	if _, err := New(Options{Routes: []Route{{Pattern: "POST /v1/undocumented", Scope: ScopePredict, Handler: h}}}); err == nil {
		t.Error("a route not in ServiceRoutes: no error")
	}
	s, err := New(Options{Routes: []Route{{Pattern: "POST /v1/recommend", Scope: ScopePredict, Handler: h}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/recommend", strings.NewReader(`{"name":"z"}`)))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /v1/recommend = %d %s", rec.Code, rec.Body)
	}
}
