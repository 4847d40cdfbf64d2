package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestRateLimitPerKey checks each key has its own token bucket: a key
// over its burst gets 429 with Retry-After, another key is unaffected,
// and the refusals are counted.
func TestRateLimitPerKey(t *testing.T) {
	s := newTestServer(t, Options{Keys: testKeys(), RateLimit: 0.001, RateBurst: 3})
	auth := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	for i := range 3 {
		if code, body, _ := do(s, "GET", "/v1/events?from=0&limit=1", "", auth(adminKey)...); code == http.StatusTooManyRequests {
			t.Fatalf("request %d within the burst: %d %s", i, code, body)
		}
	}
	code, body, h := do(s, "GET", "/v1/events?from=0&limit=1", "", auth(adminKey)...)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("request over the burst = %d %s (Retry-After %q); want 429 with Retry-After", code, body, h.Get("Retry-After"))
	}
	if code, body, _ := do(s, "POST", "/v1/predict/purchase", `{"user_id":"u","item_id":"i"}`, auth(predictKey)...); code == http.StatusTooManyRequests {
		t.Fatalf("another key was limited: %d %s", code, body)
	}
	// Public routes are never limited.
	for range 5 {
		if code, _, _ := do(s, "GET", "/healthz", ""); code != http.StatusOK {
			t.Fatalf("healthz = %d", code)
		}
	}
	if _, err := New(Options{RateLimit: -1}); err == nil {
		t.Error("a negative rate limit: no error")
	}
}

func TestPprofAdminOnly(t *testing.T) {
	s := newTestServer(t, Options{Keys: testKeys(), Pprof: true})
	for _, tc := range []struct {
		key  string
		code int
	}{
		{"", http.StatusUnauthorized},
		{predictKey, http.StatusForbidden},
		{adminKey, http.StatusOK},
	} {
		var h []string
		if tc.key != "" {
			h = []string{"Authorization", "Bearer " + tc.key}
		}
		if code, body, _ := do(s, "GET", "/debug/pprof/", "", h...); code != tc.code {
			t.Errorf("pprof with key %q = %d %.80s; want %d", tc.key, code, body, tc.code)
		}
	}
	open := newTestServer(t, Options{})
	if code, _, _ := do(open, "GET", "/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("pprof without Options.Pprof = %d; want 404", code)
	}
}

// TestTLS serves HTTPS with a self-signed certificate and checks a client
// that trusts it gets answers, and a plain-HTTP client does not.
func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	s := newTestServer(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	parsed, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	var resp *http.Response
	for i := range 100 {
		if resp, err = c.Get("https://" + ln.Addr().String() + "/healthz"); err == nil {
			break
		}
		time.Sleep(time.Duration(i) * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("HTTPS GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("HTTPS GET /healthz = %d (TLS %v)", resp.StatusCode, resp.TLS != nil)
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if r, err := plain.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was answered 200 by a TLS server")
		}
	}
}
