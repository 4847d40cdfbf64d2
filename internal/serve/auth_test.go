package serve

import (
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const (
	ingestKey  = "ingest-key-000000000001"
	predictKey = "predict-key-00000000002"
	adminKey   = "admin-key-0000000000003"
	bothKey    = "both-key-00000000000004"
)

func testKeys() []Key {
	return []Key{
		{Secret: ingestKey, Scopes: []Scope{ScopeIngest}},
		{Secret: predictKey, Scopes: []Scope{ScopePredict}},
		{Secret: adminKey, Scopes: []Scope{ScopeAdmin}},
		{Secret: bothKey, Scopes: []Scope{ScopeIngest, ScopePredict}},
	}
}

func TestParseKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    []Key
		wantErr string // substring
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: ingestKey + ":ingest", want: []Key{{ingestKey, []Scope{ScopeIngest}}}},
		{in: " " + bothKey + ":ingest+predict , " + adminKey + ":admin ", want: []Key{
			{bothKey, []Scope{ScopeIngest, ScopePredict}}, {adminKey, []Scope{ScopeAdmin}}}},
		{in: "with:colon:inside-secret:predict", want: []Key{{"with:colon:inside-secret", []Scope{ScopePredict}}}},
		{in: ingestKey + ":ingest,", wantErr: "entry 2 is empty"},
		{in: ingestKey, wantErr: "entry 1 has no ':'"},
		{in: ingestKey + ":", wantErr: `entry 1: unknown scope ""`},
		{in: ingestKey + ":ingest+predcit", wantErr: `entry 1: unknown scope "predcit"`},
		{in: "short:admin", wantErr: "entry 1: secret is 5 bytes, want at least 16"},
		{in: ":admin", wantErr: "entry 1: secret is empty"},
		{in: "has space in the secret:admin", wantErr: "space, control or non-ASCII byte at position 3"},
	}
	for _, tt := range tests {
		got, err := ParseKeys(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseKeys(%q) error = %v; want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseKeys(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseKeysNeverEchoesSecret(t *testing.T) {
	for _, in := range []string{
		"a-secret-value-12345:adm", "a-secret-value-1234\x01:admin", "a-secret-value-12345:",
	} {
		_, err := ParseKeys(in)
		if err == nil {
			t.Fatalf("ParseKeys(%q) = nil error; want one", in)
		}
		if strings.Contains(err.Error(), "a-secret-value") {
			t.Errorf("ParseKeys(%q) error %q leaks the secret", in, err)
		}
	}
}

func TestKeysFromEnv(t *testing.T) {
	t.Setenv(EnvKeys, adminKey+":admin")
	got, err := KeysFromEnv()
	if want := []Key{{adminKey, []Scope{ScopeAdmin}}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("KeysFromEnv() = %v, %v; want %v, nil", got, err, want)
	}
	t.Setenv(EnvKeys, adminKey+":root")
	if _, err := KeysFromEnv(); err == nil || !strings.Contains(err.Error(), EnvKeys) {
		t.Errorf("KeysFromEnv() error = %v; want one naming %s", err, EnvKeys)
	}
}

func TestNewRejectsBadKeys(t *testing.T) {
	tests := []struct {
		keys    []Key
		wantErr string
	}{
		{[]Key{{Secret: "short", Scopes: []Scope{ScopeAdmin}}}, "Options.Keys[0]: secret is 5 bytes"},
		{[]Key{{Secret: adminKey}}, "Options.Keys[0]: no scopes"},
		{[]Key{{Secret: adminKey, Scopes: []Scope{"Admin"}}}, `Options.Keys[0]: unknown scope "Admin"`},
		{[]Key{{Secret: adminKey, Scopes: []Scope{ScopeAdmin}}, {Secret: adminKey, Scopes: []Scope{ScopeIngest}}},
			"Options.Keys[1]: same secret as Options.Keys[0]"},
	}
	for _, tt := range tests {
		_, err := New(Options{Addr: "127.0.0.1:0", Keys: tt.keys})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(Keys: %v) error = %v; want one containing %q", tt.keys, err, tt.wantErr)
		}
	}
}

func TestKeyringLookup(t *testing.T) {
	kr, err := newKeyring(testKeys())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		secret string
		want   scopeSet
		ok     bool
	}{
		{ingestKey, bitIngest, true},
		{predictKey, bitPredict, true},
		{adminKey, bitAdmin, true},
		{bothKey, bitIngest | bitPredict, true},
		{"", 0, false},
		{adminKey[:len(adminKey)-1], 0, false},
		{adminKey + "x", 0, false},
	}
	for _, tt := range tests {
		got, _, ok := kr.lookup(tt.secret)
		if got != tt.want || ok != tt.ok {
			t.Errorf("lookup(%q) = %b, %v; want %b, %v", tt.secret, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAuth(t *testing.T) {
	lg := &fakeLog{}
	lg.append(`{"id":"e1"}`)
	ingest := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, []byte(`{"accepted":1}`))
	})
	s := newTestServer(t, Options{Keys: testKeys(), Ingest: ingest, Log: lg, Scorer: &fakeScorer{}})
	h := s.Handler()

	type route struct{ method, target, body string }
	var (
		ingestRoute  = route{"POST", "/v1/events", `{"id":"e2"}`}
		readRoute    = route{"GET", "/v1/events", ""}
		predictRoute = route{"POST", "/v1/predict/purchase", `{"user_id":"u","item_id":"i"}`}
		health       = route{"GET", "/healthz", ""}
		ready        = route{"GET", "/readyz", ""}
		metrics      = route{"GET", "/metrics", ""}
	)
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	tests := []struct {
		name   string
		route  route
		header []string
		want   int
	}{
		{"ingest/no key", ingestRoute, nil, 401},
		{"ingest/wrong key", ingestRoute, bearer("not-a-configured-key-123"), 401},
		{"ingest/basic scheme", ingestRoute, []string{"Authorization", "Basic " + ingestKey}, 401},
		{"ingest/empty bearer", ingestRoute, []string{"Authorization", "Bearer "}, 401},
		{"ingest/predict scope", ingestRoute, bearer(predictKey), 403},
		{"ingest/ingest scope", ingestRoute, bearer(ingestKey), 202},
		{"ingest/lowercase bearer", ingestRoute, []string{"Authorization", "bearer " + ingestKey}, 202},
		{"ingest/x-api-key", ingestRoute, []string{"X-API-Key", ingestKey}, 202},
		{"ingest/both scopes", ingestRoute, bearer(bothKey), 202},
		{"ingest/admin", ingestRoute, bearer(adminKey), 202},
		{"read/no key", readRoute, nil, 401},
		{"read/ingest scope", readRoute, bearer(ingestKey), 403},
		{"read/both scopes", readRoute, bearer(bothKey), 403},
		{"read/admin", readRoute, bearer(adminKey), 200},
		{"read/admin x-api-key", readRoute, []string{"X-API-Key", adminKey}, 200},
		{"predict/no key", predictRoute, nil, 401},
		{"predict/wrong key", predictRoute, []string{"X-API-Key", "not-a-configured-key-123"}, 401},
		{"predict/ingest scope", predictRoute, bearer(ingestKey), 403},
		{"predict/predict scope", predictRoute, bearer(predictKey), 200},
		{"predict/admin", predictRoute, bearer(adminKey), 200},
		{"healthz/no key", health, nil, 200},
		{"readyz/no key", ready, nil, 503}, // not serving yet
		{"metrics/no key", metrics, nil, 200},
		{"healthz/wrong key", health, bearer("not-a-configured-key-123"), 200},
	}
	for _, tt := range tests {
		code, body, hdr := do(h, tt.route.method, tt.route.target, tt.route.body, tt.header...)
		if code != tt.want {
			t.Errorf("%s: %s %s = %d %s; want %d", tt.name, tt.route.method, tt.route.target, code, body, tt.want)
			continue
		}
		if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without a Bearer WWW-Authenticate header: %q", tt.name, hdr.Get("WWW-Authenticate"))
		}
		if (code == 401 || code == 403) && !strings.HasPrefix(body, `{"error":"`) {
			t.Errorf("%s: body = %s; want a JSON error", tt.name, body)
		}
	}
}

func TestOpenWithoutKeys(t *testing.T) {
	lg := &fakeLog{}
	s := newTestServer(t, Options{Log: lg, Scorer: &fakeScorer{}})
	for _, tt := range []struct{ method, target, body string }{
		{"GET", "/v1/events", ""},
		{"POST", "/v1/predict/purchase", `{"user_id":"u","item_id":"i"}`},
	} {
		if code, body, _ := do(s.Handler(), tt.method, tt.target, tt.body); code != 200 {
			t.Errorf("open API: %s %s = %d %s; want 200", tt.method, tt.target, code, body)
		}
	}
}

func TestLoopbackRule(t *testing.T) {
	tests := []struct {
		addr     string
		loopback bool
	}{
		{"127.0.0.1:8080", true},
		{"127.1.2.3:80", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST:0", true},
		{"[::ffff:127.0.0.1]:80", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"10.0.0.1:8080", false},
		{"example.com:80", false},
		{"localhost.example.com:80", false},
	}
	for _, tt := range tests {
		if got := isLoopbackAddr(tt.addr); got != tt.loopback {
			t.Errorf("isLoopbackAddr(%q) = %v; want %v", tt.addr, got, tt.loopback)
		}
		_, err := New(Options{Addr: tt.addr})
		if tt.loopback && err != nil {
			t.Errorf("New(Addr: %q, no keys) = %v; want nil", tt.addr, err)
		}
		if !tt.loopback {
			if !errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), EnvKeys) || !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("New(Addr: %q, no keys) = %v; want ErrNoKeys naming %s and the address", tt.addr, err, EnvKeys)
			}
			if _, err := New(Options{Addr: tt.addr, Keys: testKeys()}); err != nil {
				t.Errorf("New(Addr: %q, with keys) = %v; want nil", tt.addr, err)
			}
		}
	}
}

// addrListener is a listener that claims an address but never accepts;
// it lets the test check Serve's loopback rule without opening a port.
type addrListener struct {
	addr   net.Addr
	closed bool
}

func (l *addrListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l *addrListener) Close() error              { l.closed = true; return nil }
func (l *addrListener) Addr() net.Addr            { return l.addr }

func TestServeRefusesNonLoopbackListenerWithoutKeys(t *testing.T) {
	s := newTestServer(t, Options{})
	ln := &addrListener{addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}}
	err := s.Serve(t.Context(), ln)
	if !errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), "192.0.2.1:8080") {
		t.Errorf("Serve(192.0.2.1:8080 listener, no keys) = %v; want ErrNoKeys naming the address", err)
	}
	if !ln.closed {
		t.Errorf("Serve did not close the refused listener")
	}
	if s.Ready() {
		t.Errorf("Ready() = true after a refused Serve")
	}
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.IPv6loopback}, &net.UnixAddr{Name: "/tmp/x.sock", Net: "unix"},
	} {
		if !isLocalListener(a) {
			t.Errorf("isLocalListener(%v) = false; want true", a)
		}
	}
	if isLocalListener(&net.TCPAddr{IP: net.IPv6unspecified}) {
		t.Errorf("isLocalListener([::]) = true; want false")
	}
}
