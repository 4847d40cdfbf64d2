package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const modelsUsage = `perpetua models list|show VERSION|promote --model NAME [--version N]|rollback [--target URL] [--json]

Talks to a running server's admin API (GET /v1/models, POST /v1/models/promote,
POST /v1/models/rollback). The admin key is read from PERPETUA_API_KEY.`

// cmdModels lists the registry's versions and promotes or rolls back the
// champion of a running server.
func cmdModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, modelsUsage)
		return usagef("models: want list, show, promote or rollback")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("models "+sub, stderr)
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the running server")
	model := fs.String("model", "", "promote: the learner (mlp, logistic, deep)")
	version := fs.Uint64("version", 0, "promote: a registered version (0: the live learner)")
	jsonOut := fs.Bool("json", false, "print the server's JSON answer")
	var show uint64
	if sub == "show" {
		if len(args) == 0 {
			return usagef("models show: want a version number")
		}
		v, err := strconv.ParseUint(args[0], 10, 64)
		if err != nil || v == 0 {
			return usagef("models show: %q is not a version number", args[0])
		}
		show, args = v, args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	var method, path, body string
	switch sub {
	case "list", "show":
		method, path = "GET", "/v1/models"
	case "promote":
		if *model == "" {
			return usagef("models promote: --model is required")
		}
		b, _ := json.Marshal(map[string]any{"model": *model, "version": *version})
		method, path, body = "POST", "/v1/models/promote", string(b)
	case "rollback":
		method, path, body = "POST", "/v1/models/rollback", "{}"
	default:
		fmt.Fprintln(stderr, modelsUsage)
		return usagef("models: unknown subcommand %q", sub)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(*target, "/")+path, strings.NewReader(body))
	if err != nil {
		return usagef("models: --target: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if k := os.Getenv("PERPETUA_API_KEY"); k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("models %s: %s: %s", sub, resp.Status, bytes.TrimSpace(raw))
	}
	var r struct {
		Task     string `json:"task"`
		Champion struct {
			Learner string `json:"learner"`
			Version uint64 `json:"version"`
		} `json:"champion"`
		Versions []map[string]any `json:"versions"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("models: answer %.200q: %v", raw, err)
	}
	if sub == "show" {
		for _, v := range r.Versions {
			if n, _ := v["version"].(float64); uint64(n) == show {
				b, _ := json.MarshalIndent(v, "", "  ")
				_, err := fmt.Fprintf(stdout, "%s\n", b)
				return err
			}
		}
		return fmt.Errorf("models show: %s has no version %d", r.Task, show)
	}
	if *jsonOut {
		_, err := fmt.Fprintf(stdout, "%s\n", bytes.TrimSpace(raw))
		return err
	}
	live := "live"
	if r.Champion.Version > 0 {
		live = "version " + strconv.FormatUint(r.Champion.Version, 10)
	}
	fmt.Fprintf(stdout, "task %s: champion %s (%s)\n", r.Task, r.Champion.Learner, live)
	fmt.Fprintf(stdout, "%8s  %-20s  %12s  %8s  %s\n", "version", "created", "log range", "parent", "learners")
	for _, v := range r.Versions {
		ls, _ := json.Marshal(v["learners"])
		fmt.Fprintf(stdout, "%8.0f  %-20.19s  %5.0f-%-6.0f  %8.0f  %s\n", v["version"], v["created"], v["log_from"], v["log_to"], v["parent"], ls)
	}
	return nil
}
