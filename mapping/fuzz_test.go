package mapping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"oceand/internal/memtest"
	"oceand/mapping"
)

// fuzzMapping exercises every evaluation path: the fake person mapping,
// paths evaluated in Go next to the same paths run by gojq, search
// queries, a selector that may not be a boolean, and itemsToParse.
const fuzzMapping = `
resources:
  - kind: person
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"fake-person"'
          team: .team
          properties:
            name: .name
            email: .email
            status: .status
            age: .age
            department: .department.name
            bio: .bio
            nativeA: .a.b
            gojqA: (.a.b)
            nativeB: .["a"]?.c
            gojqB: (.["a"]?.c)
            computed: '[.tags[]? | tostring | ascii_downcase] | join(",")'
            quoted: "'x-' + (.id | tostring)"
          relations:
            department: .department.id
            manager:
              combinator: '"and"'
              rules:
                - property: '"email"'
                  operator: '"="'
                  value: .manager.email
  - kind: person
    selector:
      query: .keep
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: .bp
  - kind: person
    selector:
      query: .item.keep != false
    port:
      itemsToParse: .children
      entity:
        mappings:
          identifier: .item.id
          blueprint: '"child"'
          properties:
            parent: .id
            rest: keys
`

// FuzzMap maps arbitrary items (and an arbitrary extra program) and checks
// what every caller relies on: no panic, only *ItemError failures, kept
// entities have an identifier and a blueprint and encode as JSON, paths
// evaluated in Go agree with gojq, mapping is deterministic, and MapItems
// gives what Map gives. Seeds: testdata/fuzz/FuzzMap.
//
//	go test -run '^$' -fuzz FuzzMap -fuzztime 60s ./mapping/
func FuzzMap(f *testing.F) {
	f.Add([]byte(`{"id":"AB00000001","name":"Ada Lovelace","email":"ada@example.com","age":33,"status":"WORKING","department":{"id":"hr","name":"HR"},"bio":"lorem"}`), ".name")
	f.Add([]byte(`{"id":0,"a":{"b":"x","c":[1]},"keep":"yes","children":[{"id":"c1"},{"id":"c2","keep":false}]}`), ".a | keys")
	f.Add([]byte(`{"id":"x","a":"str","tags":[1,"B",null],"children":"no","manager":{"email":7}}`), "'it''s' + .id")
	f.Add([]byte(`[1,2,3]`), ".[0]")
	f.Add([]byte(`{"id":"y","bp":"z","keep":true,"children":null}`), "if .keep then error(\"no\") else empty end")
	m, err := mapping.Compile(mustParse(f, fuzzMapping), mapping.Options{ItemTimeout: 200 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, expr string) {
		item := fuzzItem(data)
		for _, rm := range m.Resources() {
			checkMap(t, rm, item)
		}
		if len(expr) > 200 {
			return
		}
		extra, err := mapping.Compile(mustParseJSON(t, expr), mapping.Options{ItemTimeout: 100 * time.Millisecond})
		if err != nil {
			var ce *mapping.CompileError
			if !errors.As(err, &ce) || ce.Offset > len(ce.Expr) || ce.Field != "port.entity.mappings.properties.p" {
				t.Fatalf("compile %q: %v (%+v)", expr, err, ce)
			}
			_ = ce.Caret()
			return
		}
		checkMap(t, extra.Resources()[0], item)
	})
}

func mustParse(t testing.TB, yml string) *mapping.Config {
	t.Helper()
	cfg, err := mapping.ParseYAML([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// mustParseJSON builds a mapping whose one property is expr.
func mustParseJSON(t testing.TB, expr string) *mapping.Config {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"resources": []any{map[string]any{
		"kind": "x", "selector": map[string]any{"query": "true"},
		"port": map[string]any{"entity": map[string]any{"mappings": map[string]any{
			"identifier": `"id"`, "blueprint": `"x"`, "properties": map[string]any{"p": expr},
		}}},
	}}})
	cfg, err := mapping.ParseJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fuzzItem reads data as JSON (numbers kept exact), or takes it as a
// string item.
func fuzzItem(data []byte) any {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(data)
	}
	return v
}

func checkMap(t *testing.T, rm *mapping.ResourceMapper, item any) {
	t.Helper()
	res, err := rm.Map(context.Background(), item)
	var ie *mapping.ItemError
	if err != nil {
		if !errors.As(err, &ie) {
			t.Fatalf("%s: error %v is not an *ItemError", rm.KindID(), err)
		}
		if strings.Contains(ie.Reason, "unexpectedly") {
			t.Fatalf("%s: %v", rm.KindID(), err)
		}
		if ie.Timeout {
			return // the rest depends on timing
		}
	}
	for _, e := range res.Entities {
		for k := range e {
			switch k {
			case "identifier", "blueprint", "title", "icon", "team", "properties", "relations":
			default:
				t.Fatalf("entity has key %q: %v", k, e)
			}
		}
		if isFalsy(e["identifier"]) || isFalsy(e["blueprint"]) {
			t.Fatalf("entity without identifier or blueprint kept: %v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("entity does not encode: %v (%v)", err, e)
		}
		if props, ok := e["properties"].(map[string]any); ok {
			if !reflect.DeepEqual(props["nativeA"], props["gojqA"]) || !reflect.DeepEqual(props["nativeB"], props["gojqB"]) {
				t.Fatalf("paths in Go and in gojq disagree: %v", props)
			}
		}
	}
	for _, mc := range res.Misconfigurations {
		if strings.HasSuffix(mc.Field, "nativeA") || strings.HasSuffix(mc.Field, "nativeB") {
			twin := strings.Replace(mc.Field, "native", "gojq", 1)
			found := false
			for _, o := range res.Misconfigurations {
				found = found || (o.Field == twin && o.Reason == mc.Reason)
			}
			if !found {
				t.Fatalf("misconfiguration %+v has no twin from gojq in %+v", mc, res.Misconfigurations)
			}
		}
	}
	again, err2 := rm.Map(context.Background(), item)
	if !reflect.DeepEqual(res, again) || (err == nil) != (err2 == nil) {
		t.Fatalf("mapping the same item twice differs:\n%+v %v\n%+v %v", res, err, again, err2)
	}
	if obj, ok := item.(map[string]any); ok {
		got := rm.MapItems(context.Background(), []map[string]any{obj})
		if !reflect.DeepEqual(got[0].Result, res) || (got[0].Err == nil) != (err == nil) {
			t.Fatalf("MapItems differs from Map: %+v vs %+v", got[0], res)
		}
	}
}

// isFalsy is Python's falsiness of a JSON value, which Ocean uses to drop
// entities.
func isFalsy(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case bool:
		return !t
	case string:
		return t == ""
	case json.Number:
		f, err := t.Float64()
		return err == nil && f == 0
	case float64:
		return t == 0
	case int:
		return t == 0
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

// fuzzHeapBound is the most heap reading and compiling a mapping file may
// reach, whatever the input: yamlsafe's limits keep the file's share under
// about 150 MB.
const fuzzHeapBound = 256 << 20

// FuzzParseFile reads arbitrary mapping files and compiles what parses:
// no panic, errors only of the documented types with places inside the
// file, and the heap under fuzzHeapBound. Seeds: f.Add below and
// testdata/fuzz/FuzzParseFile.
//
//	go test -run '^$' -fuzz FuzzParseFile -fuzztime 60s ./mapping/
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(fuzzMapping))
	f.Add([]byte("resources:\n  - kind: a\n    kind: b\n    port: {entity: {mappings: {identifier: .id, blueprint: '\"a\"'}}}\n"))
	f.Add([]byte("resources: []\na: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: {<<: *c, e: [*c, *c]}\n"))
	f.Add([]byte(`{"resources": [{"kind": "a", "selector": {"query": "[[[[.]]]]"}, "port": {"entity": {"mappings": {"identifier": ".id", "blueprint": "\"a\""}}}}]}`))
	f.Add([]byte("resources: [[[[[[{kind: x}]]]]]]\n---\nresources: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// YAML breaks lines at \n, \r\n and a lone \r: counting both
		// characters bounds the number of lines.
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1
		var cfg *mapping.Config
		var err error
		heap := memtest.Highest(func() {
			cfg, err = mapping.ParseFile("m.yml", data)
			if err == nil {
				_, err = mapping.Compile(cfg, mapping.Options{})
			}
		})
		if heap > fuzzHeapBound {
			t.Fatalf("the heap reached %d MB, more than %d MB", heap>>20, fuzzHeapBound>>20)
		}
		var pe *mapping.ParseError
		var problems []mapping.Problem
		switch {
		case err == nil:
			problems = cfg.Warnings()
		case errors.As(err, &pe):
			problems = pe.Problems
		default:
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) {
				t.Fatalf("error %v (%T) is neither a *ParseError nor compile errors", err, err)
			}
			for _, e := range joined.Unwrap() {
				var ce *mapping.CompileError
				if !errors.As(e, &ce) {
					t.Fatalf("compile error %v is not a *CompileError", e)
				}
			}
		}
		for _, p := range problems {
			if p.Line > lines {
				t.Fatalf("problem %q is past the file's %d lines", p, lines)
			}
		}
	})
}
