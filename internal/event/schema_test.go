package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// schemaPath is docs/events.schema.json, relative to this package.
var schemaPath = filepath.Join("..", "..", "docs", "events.schema.json")

type schemaBranch struct {
	Title                string                        `json:"title"`
	Type                 string                        `json:"type"`
	Properties           map[string]json.RawMessage    `json:"properties"`
	Required             []string                      `json:"required"`
	AnyOf                []struct{ Required []string } `json:"anyOf"`
	AdditionalProperties *bool                         `json:"additionalProperties"`
}

type schemaDoc struct {
	Schema string                     `json:"$schema"`
	OneOf  []schemaBranch             `json:"oneOf"`
	Defs   map[string]json.RawMessage `json:"$defs"`
}

func loadSchema(t *testing.T) schemaDoc {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return doc
}

func names(s fieldSet) []string {
	var out []string
	for f := range numFields {
		if s.has(f) {
			out = append(out, f.String())
		}
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSchemaMatchesDecoder checks that docs/events.schema.json has one
// oneOf branch per type and that each branch's required, allowed and
// at-least-one-of field lists equal the decoder's table, so the documented
// schema and the code cannot drift apart.
func TestSchemaMatchesDecoder(t *testing.T) {
	doc := loadSchema(t)
	if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q; want JSON Schema 2020-12", doc.Schema)
	}
	seen := map[Type]bool{}
	for _, br := range doc.OneOf {
		var tc struct {
			Const string `json:"const"`
		}
		if err := json.Unmarshal(br.Properties["type"], &tc); err != nil || tc.Const == "" {
			t.Errorf("branch %q: properties.type is %s; want {\"const\": NAME}", br.Title, br.Properties["type"])
			continue
		}
		typ, ok := ParseType(tc.Const)
		if !ok {
			t.Errorf("branch %q: type const %q is not a known type", br.Title, tc.Const)
			continue
		}
		if seen[typ] {
			t.Errorf("type %q has two branches", tc.Const)
		}
		seen[typ] = true
		sp := specs[typ]
		if got, want := sorted(br.Required), names(sp.required); !reflect.DeepEqual(got, want) {
			t.Errorf("schema %q required = %q; decoder requires %q", tc.Const, got, want)
		}
		var props []string
		for k := range br.Properties {
			props = append(props, k)
		}
		if got, want := sorted(props), names(sp.allowed()); !reflect.DeepEqual(got, want) {
			t.Errorf("schema %q properties = %q; decoder allows %q", tc.Const, got, want)
		}
		var anyOf []string
		for _, a := range br.AnyOf {
			if len(a.Required) != 1 {
				t.Errorf("schema %q anyOf entry requires %q; want exactly one field", tc.Const, a.Required)
			}
			anyOf = append(anyOf, a.Required...)
		}
		if got, want := sorted(anyOf), names(sp.anyOf); !reflect.DeepEqual(got, want) {
			t.Errorf("schema %q anyOf = %q; decoder wants one of %q", tc.Const, got, want)
		}
		if br.Type != "object" || br.AdditionalProperties == nil || *br.AdditionalProperties {
			t.Errorf("schema %q: want type object with additionalProperties false", tc.Const)
		}
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("schema has no branch for type %q", typ)
		}
	}
}

// TestSchemaLimits checks that the limits stated in the schema's $defs are
// the package's constants.
func TestSchemaLimits(t *testing.T) {
	doc := loadSchema(t)
	type def struct {
		MaxLength        *float64 `json:"maxLength"`
		MaxItems         *float64 `json:"maxItems"`
		Maximum          *float64 `json:"maximum"`
		Minimum          *float64 `json:"minimum"`
		ExclusiveMinimum *float64 `json:"exclusiveMinimum"`
		Description      string   `json:"description"`
	}
	get := func(name string) def {
		var d def
		if err := json.Unmarshal(doc.Defs[name], &d); err != nil {
			t.Fatalf("$defs.%s: %v", name, err)
		}
		return d
	}
	eq := func(what string, got *float64, want float64) {
		if got == nil || *got != want {
			t.Errorf("schema %s = %v; want %v", what, got, want)
		}
	}
	eq("$defs.id.maxLength", get("id").MaxLength, MaxIDLen)
	eq("$defs.kind.maxLength", get("kind").MaxLength, MaxKindLen)
	eq("$defs.device.maxLength", get("device").MaxLength, MaxDeviceLen)
	for _, n := range []string{"items", "positions", "propensities"} {
		eq("$defs."+n+".maxItems", get(n).MaxItems, MaxItems)
	}
	eq("$defs.lines.maxItems", get("lines").MaxItems, MaxLines)
	eq("$defs.position.maximum", get("position").Maximum, MaxPosition)
	eq("$defs.position.minimum", get("position").Minimum, 1)
	for _, n := range []string{"nonneg", "positive", "finite"} {
		eq("$defs."+n+".maximum", get(n).Maximum, MaxMagnitude)
	}
	eq("$defs.nonneg.minimum", get("nonneg").Minimum, 0)
	eq("$defs.positive.exclusiveMinimum", get("positive").ExclusiveMinimum, 0)
	eq("$defs.finite.minimum", get("finite").Minimum, -MaxMagnitude)
	eq("$defs.probability.exclusiveMinimum", get("probability").ExclusiveMinimum, 0)
	eq("$defs.probability.maximum", get("probability").Maximum, 1)
	if d := get("attrs").Description; !strings.Contains(d, "16384 bytes") || !strings.Contains(d, "32 levels") {
		t.Errorf("$defs.attrs.description = %q; want it to state the 16384-byte and 32-level limits", d)
	}
}
