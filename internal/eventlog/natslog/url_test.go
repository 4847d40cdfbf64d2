package natslog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want natslog.Options
	}{
		{"nats://127.0.0.1:4222", natslog.Options{URL: "nats://127.0.0.1:4222"}},
		{"nats://a:4222,b:4223?replicas=3&stream=SHOP&subject=shop.events",
			natslog.Options{URL: "nats://a:4222,nats://b:4223", Replicas: 3, Stream: "SHOP", Subject: "shop.events"}},
		{"tls://u:p@a:4222?timeout=3s&max_batch=500", natslog.Options{URL: "tls://u:p@a:4222", Timeout: 3 * time.Second, MaxBatch: 500}},
		{"nats+embedded:///var/lib/perpetua/nats", natslog.Options{Dir: "/var/lib/perpetua/nats"}},
		{"nats+embedded:///d?sync=always", natslog.Options{Dir: "/d", SyncAlways: true}},
	}
	for _, tc := range tests {
		got, err := natslog.ParseURL(tc.in)
		if err != nil || got.URL != tc.want.URL || got.Dir != tc.want.Dir || got.Stream != tc.want.Stream ||
			got.Subject != tc.want.Subject || got.Replicas != tc.want.Replicas || got.MaxBatch != tc.want.MaxBatch ||
			got.Timeout != tc.want.Timeout || got.SyncAlways != tc.want.SyncAlways {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v, nil", tc.in, got, err, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://a:4222", "scheme"},
		{"nats://", "no host"},
		{"nats://a:4222/path", "path"},
		{"nats://a:4222?replicas=9", "replicas"},
		{"nats://a:4222?replica=3", "unknown query key"},
		{"nats://a:4222?sync=always", "only for nats+embedded"},
		{"nats://a:4222?stream=a.b", "Options.Stream"},
		{"nats://a:4222?subject=a.>", "Options.Subject"},
		{"nats://a:4222?timeout=-1s", "timeout"},
		{"nats+embedded://host/dir", "nats+embedded:///"},
		{"nats://u:secret@a:4222?replicas=x", "replicas"},
	}
	for _, tc := range tests {
		_, err := natslog.ParseURL(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "natslog: ") {
			t.Errorf("ParseURL(%q) = %v; want an error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) error %q shows the password", tc.in, err)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("nats://a:4222,b:4223?replicas=3&stream=S")
	f.Add("nats+embedded:///d?sync=always")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := natslog.ParseURL(s)
		if err != nil {
			return
		}
		if (o.URL == "") == (o.Dir == "") {
			t.Fatalf("ParseURL(%q) = %+v: want exactly one of URL and Dir", s, o)
		}
	})
}
