package natslog

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseURL parses a log URL into Options:
//
//	nats://host:4222[,host2:4222…][?stream=S&subject=s&replicas=3&max_batch=1000&timeout=10s]
//	tls://host:4222… (the same, over TLS)
//	nats+embedded:///path/to/dir[?stream=…&sync=always]
//
// A nats:// or tls:// URL connects to a running server or cluster (user
// and password in the URL are passed on); nats+embedded starts a
// single-node embedded server (no port opened) with its JetStream store in
// the path. Unknown query keys are errors, so a typo does not silently
// fall back to a default.
func ParseURL(raw string) (Options, error) {
	var o Options
	u, err := url.Parse(raw)
	if err != nil {
		return o, fmt.Errorf("natslog: log URL: %v", err)
	}
	switch u.Scheme {
	case "nats", "tls":
		if u.Host == "" {
			return o, fmt.Errorf("natslog: log URL %q: no host", redact(u))
		}
		if u.Path != "" && u.Path != "/" {
			return o, fmt.Errorf("natslog: log URL %q: unexpected path %q", redact(u), u.Path)
		}
		// Several servers: nats://a:4222,b:4222 → nats://a:4222,nats://b:4222.
		var urls []string
		for i, h := range strings.Split(u.Host, ",") {
			if h == "" {
				return o, fmt.Errorf("natslog: log URL %q: empty host", redact(u))
			}
			v := url.URL{Scheme: u.Scheme, Host: h}
			if i == 0 {
				v.User = u.User
			}
			urls = append(urls, v.String())
		}
		o.URL = strings.Join(urls, ",")
	case "nats+embedded":
		if u.Host != "" || u.Path == "" {
			return o, fmt.Errorf("natslog: log URL %q: want nats+embedded:///absolute/dir", raw)
		}
		o.Dir = u.Path
	default:
		return o, fmt.Errorf("natslog: log URL %q: scheme %q; want nats, tls or nats+embedded", redact(u), u.Scheme)
	}
	for key, vals := range u.Query() {
		v := vals[len(vals)-1]
		bad := func(why string) error {
			return fmt.Errorf("natslog: log URL query %s=%q: %s", key, v, why)
		}
		switch key {
		case "stream":
			o.Stream = v
		case "subject":
			o.Subject = v
		case "replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 5 {
				return o, bad("want 1 to 5")
			}
			o.Replicas = n
		case "max_batch":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, bad("want a positive integer")
			}
			o.MaxBatch = n
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, bad("want a positive duration such as 10s")
			}
			o.Timeout = d
		case "sync":
			if o.Dir == "" {
				return o, bad("only for nats+embedded (set sync_interval in the server's config)")
			}
			switch v {
			case "always":
				o.SyncAlways = true
			case "interval":
			default:
				return o, bad("want always or interval")
			}
		default:
			return o, fmt.Errorf("natslog: log URL: unknown query key %q (known: stream, subject, replicas, max_batch, timeout, sync)", key)
		}
	}
	if err := o.validateNames(); err != nil {
		return o, err
	}
	return o, nil
}

// redact hides a password in u for error messages.
func redact(u *url.URL) string { return u.Redacted() }
