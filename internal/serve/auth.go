package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// Scope is a permission an API key grants. Scopes are spelled in lower
// case in configuration and in PERPETUA_API_KEYS.
type Scope string

// The scopes. ScopeAdmin implies every other scope.
const (
	ScopeIngest  Scope = "ingest"  // POST /v1/events
	ScopePredict Scope = "predict" // POST /v1/predict/*
	ScopeAdmin   Scope = "admin"   // everything, including GET /v1/events
)

// scopeSet is a set of scopes as bits.
type scopeSet uint8

const (
	bitIngest scopeSet = 1 << iota
	bitPredict
	bitAdmin
)

func (s Scope) bit() (scopeSet, bool) {
	switch s {
	case ScopeIngest:
		return bitIngest, true
	case ScopePredict:
		return bitPredict, true
	case ScopeAdmin:
		return bitAdmin, true
	}
	return 0, false
}

// allows reports whether a key holding set may use a route needing need.
func (set scopeSet) allows(need scopeSet) bool {
	return set&bitAdmin != 0 || set&need == need
}

// Key is an API key and the scopes it grants.
type Key struct {
	// Secret is the key itself: at least MinSecretLen printable ASCII
	// characters without spaces (for example `openssl rand -hex 32`).
	Secret string
	// Scopes are the permissions the key grants; at least one.
	Scopes []Scope
}

// MinSecretLen is the shortest Secret New accepts.
const MinSecretLen = 16

// EnvKeys is the environment variable KeysFromEnv reads.
const EnvKeys = "PERPETUA_API_KEYS"

// ErrNoKeys is returned (wrapped, with the address) by New and Serve when
// asked to listen beyond loopback without any API key.
var ErrNoKeys = errors.New("serve: refusing to serve a non-loopback address without API keys; set " +
	EnvKeys + " (e.g. " + EnvKeys + "=<secret>:admin) or listen on 127.0.0.1 / ::1 / localhost (--addr)")

// ParseKeys parses API keys in the PERPETUA_API_KEYS format: a
// comma-separated list of SECRET:SCOPES entries where SCOPES is a
// '+'-separated list of ingest, predict and admin, e.g.
//
//	s3cr3t-for-the-shop-frontend:ingest+predict,0p3rat0r-key-0000001:admin
//
// Blanks around entries are ignored and an empty string yields no keys.
// A secret may contain ':' (the last one separates the scopes) but not ','.
// Errors name the entry by position and never echo a secret.
func ParseKeys(s string) ([]Key, error) {
	return parseKeys("API keys", s)
}

// KeysFromEnv parses the PERPETUA_API_KEYS environment variable with
// ParseKeys. An unset or empty variable yields no keys and no error.
func KeysFromEnv() ([]Key, error) {
	return parseKeys(EnvKeys, os.Getenv(EnvKeys))
}

func parseKeys(src, s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []Key
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("serve: %s: entry %d is empty (want SECRET:SCOPE[+SCOPE…])", src, i+1)
		}
		colon := strings.LastIndexByte(entry, ':')
		if colon < 0 {
			return nil, fmt.Errorf("serve: %s: entry %d has no ':' (want SECRET:SCOPE[+SCOPE…])", src, i+1)
		}
		k := Key{Secret: entry[:colon]}
		for _, sc := range strings.Split(entry[colon+1:], "+") {
			k.Scopes = append(k.Scopes, Scope(strings.TrimSpace(sc)))
		}
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("serve: %s: entry %d: %s", src, i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// checkKey validates one key. Its messages never contain the secret.
func checkKey(k Key) error {
	if k.Secret == "" {
		return errors.New("secret is empty")
	}
	if len(k.Secret) < MinSecretLen {
		return fmt.Errorf("secret is %d bytes, want at least %d (generate one with `openssl rand -hex 32`)", len(k.Secret), MinSecretLen)
	}
	for i := 0; i < len(k.Secret); i++ {
		if c := k.Secret[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("secret has a space, control or non-ASCII byte at position %d", i)
		}
	}
	if len(k.Scopes) == 0 {
		return errors.New("no scopes (want ingest, predict or admin)")
	}
	for _, sc := range k.Scopes {
		if _, ok := sc.bit(); !ok {
			return fmt.Errorf("unknown scope %q (want ingest, predict or admin)", string(sc))
		}
	}
	return nil
}

// keyring holds the configured keys as SHA-256 digests.
type keyring struct {
	keys []hashedKey
}

type hashedKey struct {
	sum    [sha256.Size]byte
	scopes scopeSet
}

func newKeyring(keys []Key) (keyring, error) {
	var kr keyring
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return keyring{}, fmt.Errorf("serve: Options.Keys[%d]: %s", i, err)
		}
		h := hashedKey{sum: sha256.Sum256([]byte(k.Secret))}
		for _, sc := range k.Scopes {
			b, _ := sc.bit()
			h.scopes |= b
		}
		for j, prev := range kr.keys {
			if prev.sum == h.sum {
				return keyring{}, fmt.Errorf("serve: Options.Keys[%d]: same secret as Options.Keys[%d]", i, j)
			}
		}
		kr.keys = append(kr.keys, h)
	}
	return kr, nil
}

func (kr *keyring) open() bool { return len(kr.keys) == 0 }

// lookup returns the scopes of the key whose secret is secret. It compares
// digests, so its timing depends neither on the secret's length nor on
// how much of it matches, and it visits every key.
func (kr *keyring) lookup(secret string) (scopeSet, int, bool) {
	sum := sha256.Sum256([]byte(secret))
	var scopes, found, idx int
	for i := range kr.keys {
		eq := subtle.ConstantTimeCompare(sum[:], kr.keys[i].sum[:])
		scopes |= subtle.ConstantTimeSelect(eq, int(kr.keys[i].scopes), 0)
		idx |= subtle.ConstantTimeSelect(eq, i, 0)
		found |= eq
	}
	return scopeSet(scopes), idx, found == 1
}

// credential extracts the API key of r. A non-empty problem describes why
// there is none.
func credential(r *http.Request) (secret, problem string) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", `Authorization header must be "Bearer <key>"`
		}
		return tok, ""
	}
	if h := strings.TrimSpace(r.Header.Get("X-API-Key")); h != "" {
		return h, ""
	}
	return "", "missing API key: send Authorization: Bearer <key> or X-API-Key: <key>"
}

// requireScope wraps next so that it runs only for requests carrying a key
// with scope (or admin). With an open keyring it returns next unchanged.
func (s *Server) requireScope(scope Scope, next http.Handler) http.Handler {
	if s.keys.open() {
		return next
	}
	need, _ := scope.bit()
	forbidden := fmt.Sprintf("API key lacks the %q scope", string(scope))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, problem := credential(r)
		if problem != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="perpetua"`)
			writeError(w, http.StatusUnauthorized, problem)
			return
		}
		have, idx, ok := s.keys.lookup(secret)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="perpetua", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid API key")
			return
		}
		if !have.allows(need) {
			writeError(w, http.StatusForbidden, forbidden)
			return
		}
		if s.limits != nil && !s.limits[idx].Allow() {
			s.metrics.rateLimited.Inc()
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "rate limit of this API key exceeded; retry later")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopbackHost reports whether host (no port) names a loopback address.
// Names other than "localhost" are not resolved.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// isLoopbackAddr reports whether addr ("host:port") is a loopback address.
// An empty host (":8080") means every interface and is not loopback.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopbackHost(host)
}

// isLocalListener reports whether a listener bound to a is reachable only
// from this machine: a loopback TCP address or a Unix socket.
func isLocalListener(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	case nil:
		return false
	}
	return isLoopbackAddr(a.String())
}
