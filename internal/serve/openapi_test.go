package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// specPath is the OpenAPI document. It is JSON (a YAML subset) because the
// module has no YAML dependency.
const specPath = "../../docs/openapi.json"

var specMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("reading the OpenAPI spec: %v", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatalf("%s is not valid JSON: %v", specPath, err)
	}
	if v, _ := spec["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("%s: openapi = %q; want 3.1.x", specPath, v)
	}
	return spec
}

// specOperations returns the spec's operations by "METHOD /path".
func specOperations(spec map[string]any) map[string]map[string]any {
	ops := make(map[string]map[string]any)
	paths, _ := spec["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range specMethods {
			if op, ok := item[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	spec := loadSpec(t)
	ops := specOperations(spec)
	// Every service route too, as the engine mounts them.
	var routes []Route
	for p, sc := range ServiceRoutes {
		routes = append(routes, Route{Pattern: p, Scope: sc, Handler: http.NotFoundHandler()})
	}
	s := newTestServer(t, Options{Routes: routes, Pprof: true})
	for pattern := range s.routes {
		if _, ok := ops[pattern]; !ok {
			t.Errorf("route %q is registered but missing from %s", pattern, specPath)
		}
	}
	for key := range ops {
		if _, ok := s.routes[key]; !ok {
			t.Errorf("%s describes %q, which is not a registered route", specPath, key)
		}
	}
	for pattern, rt := range s.routes {
		op, ok := ops[pattern]
		if !ok {
			continue
		}
		secs, hasSec := op["security"].([]any)
		if rt.scope == "" {
			if !hasSec || len(secs) != 0 {
				t.Errorf("%s: public route must declare security: []; got %v", pattern, op["security"])
			}
			continue
		}
		if !hasSec || len(secs) == 0 {
			t.Errorf("%s: route needs scope %q but declares no security", pattern, rt.scope)
			continue
		}
		for _, req := range secs {
			for scheme, roles := range req.(map[string]any) {
				if got := fmt.Sprint(roles); got != "["+string(rt.scope)+"]" {
					t.Errorf("%s: security %s roles = %s; want [%s]", pattern, scheme, got, rt.scope)
				}
			}
		}
		resps, _ := op["responses"].(map[string]any)
		for _, code := range []string{"401", "403"} {
			if _, ok := resps[code]; !ok {
				t.Errorf("%s: authenticated route does not document %s", pattern, code)
			}
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	spec := loadSpec(t)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if strings.HasPrefix(ref, "#/") {
					if resolvePointer(spec, ref) == nil {
						t.Errorf("%s: $ref %q does not resolve", path, ref)
					}
				} else if _, err := os.Stat(filepath.Join(filepath.Dir(specPath), ref)); err != nil {
					t.Errorf("%s: $ref %q: %v", path, ref, err)
				}
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(path+"/"+strconv.Itoa(i), c)
			}
		}
	}
	walk("#", spec)
}

func resolvePointer(doc map[string]any, ref string) any {
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[tok]; !ok {
			return nil
		}
	}
	return cur
}

// validate checks v against the subset of JSON Schema the spec uses.
// References to other files (the event schema) accept any value.
func validate(spec map[string]any, schema map[string]any, v any, at string) error {
	if ref, ok := schema["$ref"].(string); ok {
		if !strings.HasPrefix(ref, "#/") {
			return nil
		}
		target, _ := resolvePointer(spec, ref).(map[string]any)
		return validate(spec, target, v, at)
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if validate(spec, a.(map[string]any), v, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of the oneOf alternatives; want 1", at, n)
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	switch typ, _ := schema["type"].(string); typ {
	case "":
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, v)
		}
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: missing required %q", at, r)
			}
		}
		for k, val := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					return fmt.Errorf("%s: unexpected property %q", at, k)
				}
				continue
			}
			if err := validate(spec, ps, val, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, v)
		}
		if mn, ok := schema["minItems"].(float64); ok && float64(len(arr)) < mn {
			return fmt.Errorf("%s: %d items, want at least %v", at, len(arr), mn)
		}
		if mx, ok := schema["maxItems"].(float64); ok && float64(len(arr)) > mx {
			return fmt.Errorf("%s: %d items, want at most %v", at, len(arr), mx)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range arr {
				if err := validate(spec, items, e, at+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want a string", at, v)
		}
		if mn, ok := schema["minLength"].(float64); ok && float64(len(s)) < mn {
			return fmt.Errorf("%s: %q shorter than %v", at, s, mn)
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%s: %T, want a number", at, v)
		}
		if typ == "integer" && f != math.Trunc(f) {
			return fmt.Errorf("%s: %v is not an integer", at, f)
		}
		if mn, ok := schema["minimum"].(float64); ok && f < mn {
			return fmt.Errorf("%s: %v below the minimum %v", at, f, mn)
		}
		if mx, ok := schema["maximum"].(float64); ok && f > mx {
			return fmt.Errorf("%s: %v above the maximum %v", at, f, mx)
		}
	default:
		return fmt.Errorf("%s: the test validator does not know type %q", at, typ)
	}
	return nil
}

// responseSchema returns the JSON schema the spec gives for op's status code.
func responseSchema(t *testing.T, spec map[string]any, op map[string]any, code int) map[string]any {
	t.Helper()
	resps, _ := op["responses"].(map[string]any)
	r, ok := resps[strconv.Itoa(code)].(map[string]any)
	if !ok {
		r, ok = resps[strconv.Itoa(code/100)+"XX"].(map[string]any)
	}
	if !ok {
		return nil
	}
	if ref, ok := r["$ref"].(string); ok {
		r, _ = resolvePointer(spec, ref).(map[string]any)
	}
	content, _ := r["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	schema, _ := media["schema"].(map[string]any)
	return schema
}

// TestOpenAPIDescribesResponses checks real answers against the spec.
func TestOpenAPIDescribesResponses(t *testing.T) {
	spec := loadSpec(t)
	ops := specOperations(spec)
	lg := &fakeLog{}
	lg.append(`{"id":"e1","type":"view","timestamp":"2024-01-01T00:00:00Z","user_id":"u","item_id":"i"}`)
	s := newTestServer(t, Options{Keys: testKeys(), Log: lg, Scorer: &fakeScorer{}})
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	tests := []struct {
		pattern, target, body string
		header                []string
		wantCode              int
	}{
		{"GET /healthz", "/healthz", "", nil, 200},
		{"GET /readyz", "/readyz", "", nil, 503},
		{"GET /v1/events", "/v1/events?from=0&limit=5", "", bearer(adminKey), 200},
		{"GET /v1/events", "/v1/events?from=2", "", bearer(adminKey), 416},
		{"GET /v1/events", "/v1/events?limit=0", "", bearer(adminKey), 400},
		{"GET /v1/events", "/v1/events", "", nil, 401},
		{"GET /v1/events", "/v1/events", "", bearer(predictKey), 403},
		{"POST /v1/events", "/v1/events", "[]", bearer(ingestKey), 503},
		{"POST /v1/predict/purchase", "/v1/predict/purchase", pairsBody(3), bearer(predictKey), 200},
		{"POST /v1/predict/purchase", "/v1/predict/purchase", `{"user_id":"u","item_id":"i"}`, bearer(predictKey), 200},
		{"POST /v1/predict/purchase", "/v1/predict/purchase", `{"pairs":[]}`, bearer(predictKey), 400},
		{"POST /v1/predict/purchase", "/v1/predict/purchase", `{}`, bearer(ingestKey), 403},
	}
	for _, tt := range tests {
		method, _, _ := strings.Cut(tt.pattern, " ")
		code, body, _ := do(s.Handler(), method, tt.target, tt.body, tt.header...)
		if code != tt.wantCode {
			t.Errorf("%s %s = %d %s; want %d", method, tt.target, code, body, tt.wantCode)
			continue
		}
		schema := responseSchema(t, spec, ops[tt.pattern], code)
		if schema == nil {
			t.Errorf("%s: the spec documents no JSON body for status %d", tt.pattern, code)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%s %s: invalid JSON %q: %v", method, tt.target, body, err)
			continue
		}
		if err := validate(spec, schema, v, "body"); err != nil {
			t.Errorf("%s %s = %d %s: does not match the spec: %v", method, tt.target, code, body, err)
		}
	}

	// The spec's request examples are accepted by the server, and the
	// request schema rejects what the server rejects.
	op := ops["POST /v1/predict/purchase"]
	media := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)
	reqSchema := media["schema"].(map[string]any)
	for name, ex := range media["examples"].(map[string]any) {
		v := ex.(map[string]any)["value"]
		b, _ := json.Marshal(v)
		if code, body, _ := do(s.Handler(), "POST", "/v1/predict/purchase", string(b), bearer(predictKey)...); code != 200 {
			t.Errorf("spec example %q: POST = %d %s; want 200", name, code, body)
		}
		if err := validate(spec, reqSchema, v, name); err != nil {
			t.Errorf("spec example %q does not match the spec's own schema: %v", name, err)
		}
	}
	for _, bad := range []string{`{"pairs":[]}`, `{"user_id":"u"}`, `{"user_id":"u","item_id":"i","pairs":[{"user_id":"u","item_id":"i"}]}`} {
		var v any
		json.Unmarshal([]byte(bad), &v)
		if validate(spec, reqSchema, v, "body") == nil {
			t.Errorf("the spec's PredictRequest schema accepts %s, which the server rejects", bad)
		}
	}
}
