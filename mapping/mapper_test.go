package mapping_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"oceand/mapping"
)

func compile(t testing.TB, yml string) *mapping.Mapping {
	t.Helper()
	return compileWith(t, yml, mapping.Options{})
}

func compileWith(t testing.TB, yml string, opts mapping.Options) *mapping.Mapping {
	t.Helper()
	cfg, err := mapping.ParseYAML([]byte(yml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m, err := mapping.Compile(cfg, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return m
}

func item(t testing.TB, js string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// oneProperty is a mapping whose entity has the property p = expr.
func oneProperty(expr string) string {
	b, _ := json.Marshal(expr)
	return `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: '"id"', blueprint: '"x"', properties: {p: ` + string(b) + `}}}}
`
}

func TestMapEntity(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: person
    selector:
      query: .active
    port:
      entity:
        mappings:
          identifier: .id
          title: .name | ascii_upcase
          blueprint: '"person"'
          properties:
            email: .email
            missing: .nope.deeper
            broken: .name | tonumber
            many: .tags[]
          relations:
            team: .team.id
`)
	r := m.Resources()[0]
	res, err := r.Map(context.Background(), item(t, `{"id":"p1","name":"ada","email":"a@x","active":true,"tags":["a","b"],"team":{"id":"core"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entities) != 1 {
		t.Fatalf("entities = %v", res.Entities)
	}
	want := mapping.Entity{
		"identifier": "p1", "blueprint": "person", "title": "ADA",
		"properties": map[string]any{"email": "a@x", "missing": nil, "broken": nil, "many": "a"},
		"relations":  map[string]any{"team": "core"},
	}
	if !reflect.DeepEqual(res.Entities[0], want) {
		t.Errorf("entity = %v\nwant     %v", res.Entities[0], want)
	}
	// .nope.deeper is null, not an error; tonumber on "ada" is.
	if len(res.Misconfigurations) != 1 || res.Misconfigurations[0].Field != "port.entity.mappings.properties.broken" {
		t.Errorf("misconfigurations = %+v", res.Misconfigurations)
	}

	res, err = r.Map(context.Background(), item(t, `{"id":"p2","active":false}`))
	if err != nil || res.Filtered != 1 || len(res.Entities) != 0 {
		t.Errorf("inactive item: res %+v err %v", res, err)
	}
	for _, js := range []string{`{"id":"p3","active":"yes"}`, `{"id":"p4","active":null}`} {
		_, err = r.Map(context.Background(), item(t, js))
		var ie *mapping.ItemError
		if !errors.As(err, &ie) || ie.Field != "selector.query" || ie.Skipped || !strings.Contains(ie.Reason, "boolean") {
			t.Errorf("non-boolean selector %s: err = %v", js, err)
		}
	}
}

func TestSelectorErrorsFailTheItem(t *testing.T) {
	t.Parallel()
	for _, query := range []string{"empty", `error("no")`, ".a.b"} {
		m := compile(t, `
resources:
  - kind: x
    selector: {query: '`+query+`'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
`)
		_, err := m.Resources()[0].Map(context.Background(), map[string]any{"id": "1", "a": "str"})
		var ie *mapping.ItemError
		if !errors.As(err, &ie) || ie.Field != "selector.query" {
			t.Errorf("selector %s: err = %v, want an item error on selector.query", query, err)
		}
	}
}

// TestEntitiesWithoutIdentifierOrBlueprintAreDropped: Ocean drops an entity
// whose identifier or blueprint is falsy in Python's sense.
func TestEntitiesWithoutIdentifierOrBlueprintAreDropped(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: .bp}}}
`)
	for _, tc := range []struct {
		item string
		kept bool
	}{
		{`{"id":"a","bp":"x"}`, true},
		{`{"id":1,"bp":"x"}`, false}, // no valid identifier: Port would refuse it
		{`{"id":["a"],"bp":"x"}`, false},
		{`{"id":true,"bp":"x"}`, false},
		{`{"id":{"combinator":"and"},"bp":"x"}`, true},
		{`{"id":"a","bp":7}`, false},
		{`{"bp":"x"}`, false},
		{`{"id":"","bp":"x"}`, false},
		{`{"id":0,"bp":"x"}`, false},
		{`{"id":0.0,"bp":"x"}`, false},
		{`{"id":false,"bp":"x"}`, false},
		{`{"id":[],"bp":"x"}`, false},
		{`{"id":{},"bp":"x"}`, false},
		{`{"id":"a","bp":""}`, false},
		{`{"id":"a"}`, false},
	} {
		res, err := m.Resources()[0].Map(context.Background(), item(t, tc.item))
		if err != nil {
			t.Fatal(err)
		}
		if kept := len(res.Entities) == 1; kept != tc.kept || res.Dropped != map[bool]int{true: 0, false: 1}[tc.kept] {
			t.Errorf("%s: entities %v, dropped %d; want kept=%v", tc.item, res.Entities, res.Dropped, tc.kept)
		}
		// A dropped entity is a misconfiguration naming the field.
		if !tc.kept {
			last := res.Misconfigurations[len(res.Misconfigurations)-1]
			if !strings.Contains(last.Reason, "the entity is dropped") || (last.Field != "port.entity.mappings.identifier" && last.Field != "port.entity.mappings.blueprint") {
				t.Errorf("%s: misconfigurations %+v, want the dropped field named", tc.item, res.Misconfigurations)
			}
		}
	}
}

func TestFirstOutputWins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want any
		mis  string
	}{
		{`.a, .b`, "A", ""},
		{`.a, error("later")`, "A", ""},
		{`error("first"), .a`, nil, "error: first"},
		{`.list[]`, 1.0, ""},
		{`empty`, nil, "no output"},
		{`.a | select(. == "nope")`, nil, "no output"},
		{`limit(0; .a)`, nil, "no output"},
		{`.missing`, nil, ""},
		{`null`, nil, ""},
		{`"lit"`, "lit", ""},
		{`42`, 42, ""},
		{`.`, map[string]any{"a": "A", "b": "B", "list": []any{1.0, 2.0}}, ""},
		{``, map[string]any{"a": "A", "b": "B", "list": []any{1.0, 2.0}}, ""},
		{`nan`, nil, ""},
		{`[infinite, -infinite]`, []any{math.MaxFloat64, -math.MaxFloat64}, ""},
		{`'single' + "double"`, "singledouble", ""},
		{`env.HOME`, nil, ""},
		{`$ENV | length`, 0, ""},
		{`halt_error`, nil, "halt"},
		{`.a | debug`, "A", ""},
		{`.a | debug("msg: \(.)")`, "A", ""},
		{`.b | stderr`, "B", ""},
		{`input_filename`, nil, ""},
	} {
		m := compile(t, oneProperty(tc.expr))
		res, err := m.Resources()[0].Map(context.Background(), item(t, `{"a":"A","b":"B","list":[1,2]}`))
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		got := res.Entities[0]["properties"].(map[string]any)["p"]
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.expr, got, tc.want)
		}
		var mis string
		if len(res.Misconfigurations) > 0 {
			mis = res.Misconfigurations[0].Reason
			if f := res.Misconfigurations[0].Field; f != "port.entity.mappings.properties.p" {
				t.Errorf("%s: misconfiguration names %q", tc.expr, f)
			}
		}
		if !strings.Contains(mis, tc.mis) || (tc.mis == "") != (mis == "") {
			t.Errorf("%s: misconfiguration %q, want %q", tc.expr, mis, tc.mis)
		}
	}
}

// TestPathsEvaluatedInGoMatchGojq: plain paths are followed in Go; the
// same path in parentheses runs in gojq. Both must agree on every input.
func TestPathsEvaluatedInGoMatchGojq(t *testing.T) {
	t.Parallel()
	paths := []string{".a", ".a.b", `.["a"].b`, `."a"`, ".a?.b", ".a.b.c", "."}
	var props strings.Builder
	for i, p := range paths {
		b, _ := json.Marshal(p)
		w, _ := json.Marshal("(" + p + ")")
		props.WriteString("\n            n" + itoa(i) + ": " + string(b) + "\n            g" + itoa(i) + ": " + string(w))
	}
	m := compile(t, `
resources:
  - kind: x
    selector: {query: 'true'}
    port:
      entity:
        mappings:
          identifier: '"id"'
          blueprint: '"x"'
          properties:`+props.String()+`
`)
	for _, in := range []string{`{}`, `{"a":null}`, `{"a":"s"}`, `{"a":{"b":1}}`, `{"a":{"b":[1]}}`, `{"a":{"b":{"c":true}}}`, `{"a":[1,2]}`, `{"a":{"b":"x"}}`, `{"a":1.5}`} {
		res, err := m.Resources()[0].Map(context.Background(), item(t, in))
		if err != nil {
			t.Fatal(err)
		}
		props := res.Entities[0]["properties"].(map[string]any)
		for i, p := range paths {
			if n, g := props["n"+itoa(i)], props["g"+itoa(i)]; !reflect.DeepEqual(n, g) {
				t.Errorf("%s on %s: %v in Go, %v in gojq", p, in, n, g)
			}
		}
		reasons := map[string]string{}
		for _, mc := range res.Misconfigurations {
			reasons[mc.Field[strings.LastIndex(mc.Field, ".")+1:]] = mc.Reason
		}
		for i, p := range paths {
			if n, g := reasons["n"+itoa(i)], reasons["g"+itoa(i)]; n != g {
				t.Errorf("%s on %s: misconfiguration %q in Go, %q in gojq", p, in, n, g)
			}
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestSearchQueryIdentifierIsEvaluatedLeafByLeaf(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: x
    selector: {query: 'true'}
    port:
      entity:
        mappings:
          identifier:
            combinator: '"and"'
            rules:
              - property: '"email"'
                operator: '"="'
                value: .email
              - property: '"n"'
                operator: '"="'
                value: .n | tonumber
          blueprint: '"user"'
`)
	res, err := m.Resources()[0].Map(context.Background(), item(t, `{"email":"a@b","n":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "email", "operator": "=", "value": "a@b"},
		map[string]any{"property": "n", "operator": "=", "value": nil},
	}}
	if !reflect.DeepEqual(res.Entities[0]["identifier"], want) {
		t.Errorf("identifier = %v", res.Entities[0]["identifier"])
	}
	if _, ok := res.Entities[0].Identifier(); ok {
		t.Error("a search identifier reads as a plain identifier")
	}
	if len(res.Misconfigurations) != 1 || res.Misconfigurations[0].Field != "port.entity.mappings.identifier.rules[1].value" {
		t.Errorf("misconfigurations = %+v", res.Misconfigurations)
	}
}

func TestItemsToParse(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: repo
    selector: {query: '.item.size > 1'}
    port:
      itemsToParse: .files
      entity:
        mappings:
          identifier: .repo + "/" + .item.path
          blueprint: '"file"'
          properties:
            size: .item.size
            stillHasFiles: has("files")
  - kind: repo
    selector: {query: 'true'}
    port:
      itemsToParse: .files
      itemsToParseName: f
      itemsToParseTopLevelTransform: false
      entity:
        mappings:
          identifier: .f.path
          blueprint: '"file"'
          properties:
            stillHasFiles: has("files")
`)
	var ie *mapping.ItemError
	in := item(t, `{"repo":"r","files":[{"path":"a","size":1},{"path":"b","size":2},{"path":"c","size":3}]}`)
	res, err := m.Resources()[0].Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entities) != 2 || res.Entities[0]["identifier"] != "r/b" || res.Filtered != 1 {
		t.Fatalf("entities = %v, filtered %d", res.Entities, res.Filtered)
	}
	if res.Entities[0]["properties"].(map[string]any)["stillHasFiles"] != false {
		t.Errorf("the parsed list was not removed from the item: %v", res.Entities[0])
	}
	res, err = m.Resources()[1].Map(context.Background(), in)
	if err != nil || len(res.Entities) != 3 || res.Entities[2]["properties"].(map[string]any)["stillHasFiles"] != true {
		t.Errorf("with the transform off: %v, %v", res.Entities, err)
	}
	if _, ok := in["files"]; !ok {
		t.Error("the caller's item was changed")
	}

	// An element the selector cannot judge fails the item, but the other
	// elements are still mapped, as in Ocean.
	res, err = m.Resources()[0].Map(context.Background(), item(t, `{"repo":"r","files":["not an object",{"path":"b","size":2}]}`))
	if !errors.As(err, &ie) || ie.Field != "selector.query" || len(res.Entities) != 1 || res.Entities[0]["identifier"] != "r/b" {
		t.Errorf("one element failing: res %+v, err %v", res, err)
	}

	// An item without the list stands for no entity: skipped, no error.
	res, err = m.Resources()[0].Map(context.Background(), item(t, `{"repo":"empty"}`))
	if err != nil || res.Skipped != 1 || len(res.Misconfigurations) != 1 {
		t.Errorf("no list: res %+v, err %v", res, err)
	}
	// Anything else that is not a list: the item's entities are unknown.
	_, err = m.Resources()[0].Map(context.Background(), item(t, `{"repo":"odd","files":{"path":"a"}}`))
	if !errors.As(err, &ie) || !ie.Skipped || ie.Field != "port.itemsToParse" {
		t.Errorf("an object for itemsToParse: err = %v", err)
	}
}

func TestTimeLimitStopsRunawayPrograms(t *testing.T) {
	t.Parallel()
	opts := mapping.Options{ItemTimeout: 50 * time.Millisecond}
	for _, tc := range []struct {
		name, yml, field string
	}{
		{"property", oneProperty("def f: f; f"), "port.entity.mappings.properties.p"},
		{"selector", `
resources:
  - kind: x
    selector: {query: 'def f: f; f'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
`, "selector.query"},
		{"itemsToParse", `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {itemsToParse: '[range(1e18)]', entity: {mappings: {identifier: .item, blueprint: '"x"'}}}
`, "port.itemsToParse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := compileWith(t, tc.yml, opts)
			_, err := m.Resources()[0].Map(context.Background(), map[string]any{"id": "1"})
			var ie *mapping.ItemError
			if !errors.As(err, &ie) || !ie.Timeout || ie.Field != tc.field || !strings.Contains(ie.Reason, "50ms") {
				t.Fatalf("err = %v, want a time-out naming %s", err, tc.field)
			}
		})
	}
	t.Run("the caller's cancellation is not a time-out", func(t *testing.T) {
		t.Parallel()
		m := compileWith(t, oneProperty("def f: f; f"), mapping.Options{ItemTimeout: -1})
		cause := errors.New("resync superseded")
		ctx, cancel := context.WithCancelCause(context.Background())
		go cancel(cause)
		_, err := m.Resources()[0].Map(ctx, map[string]any{"id": "1"})
		if !errors.Is(err, cause) {
			t.Fatalf("err = %v, want the cancellation cause", err)
		}
	})
}

func TestNonJSONInputs(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: x
    selector: {query: 'true'}
    port:
      entity:
        mappings:
          identifier: .id | tostring
          blueprint: '"x"'
          properties:
            when: .when
            whenUTC: .whenUTC
            big: .big
            small: .small + 1
            tags: .tags | join(",")
            counts: .counts.a
            nested: .nested.Name
            raw: .raw.k
            bytes: .bytes
            nan: .nan
            ptr: .ptr
`)
	type named struct{ Name string }
	n := 5
	in := map[string]any{
		"id":      int64(7),
		"when":    time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("", 2*3600)),
		"whenUTC": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"big":     uint64(math.MaxUint64),
		"small":   int32(4),
		"tags":    []string{"a", "b"},
		"counts":  map[string]int{"a": 3},
		"nested":  named{Name: "n"},
		"raw":     json.RawMessage(`{"k":[1]}`),
		"bytes":   []byte("hi"),
		"nan":     math.NaN(),
		"ptr":     &n,
	}
	res, err := m.Resources()[0].Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Misconfigurations) > 0 {
		t.Fatalf("misconfigurations: %+v", res.Misconfigurations)
	}
	got := res.Entities[0]["properties"].(map[string]any)
	want := map[string]any{
		"when": "2026-01-02T03:04:05.000006+02:00", "whenUTC": "2026-01-02T03:04:05+00:00",
		"big": new(big.Int).SetUint64(math.MaxUint64), "small": 5, "tags": "a,b", "counts": 3,
		"nested": "n", "raw": []any{json.Number("1")}, "bytes": "aGk=", "nan": nil, "ptr": 5,
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if res.Entities[0]["identifier"] != "7" {
		t.Errorf("identifier = %v", res.Entities[0]["identifier"])
	}
	if _, err := json.Marshal(res.Entities[0]); err != nil {
		t.Errorf("the entity does not encode: %v", err)
	}
}

func TestJQEnvSeesOnlyTheAllowList(t *testing.T) {
	t.Parallel()
	yml := `
resources:
  - kind: a
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"a"', properties: {secret: env.SECRET_TOKEN, allowed: $ENV.REGION, all: env | keys}}}}
`
	lookup := func(k string) (string, bool) {
		switch k {
		case "SECRET_TOKEN":
			return "hunter2", true
		case "REGION":
			return "eu", true
		}
		return "", false
	}
	for _, tc := range []struct {
		allow []string
		want  map[string]any
	}{
		{nil, map[string]any{"secret": nil, "allowed": nil, "all": []any{}}},
		{[]string{"REGION", "UNSET"}, map[string]any{"secret": nil, "allowed": "eu", "all": []any{"REGION"}}},
	} {
		m := compileWith(t, yml, mapping.Options{EnvAllowList: tc.allow, LookupEnv: lookup})
		res, err := m.Resources()[0].Map(context.Background(), map[string]any{"id": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Entities[0]["properties"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("allow %v: properties = %v, want %v", tc.allow, got, tc.want)
		}
	}
}

func TestMapItemsEqualsMap(t *testing.T) {
	t.Parallel()
	m := compileWith(t, `
resources:
  - kind: x
    selector: {query: '.n % 7 != 0'}
    port: {entity: {mappings: {identifier: '.n | tostring', blueprint: '"x"', properties: {sq: .n * .n, bad: .s | ascii_upcase}}}}
`, mapping.Options{Parallelism: 4})
	rm := m.Resources()[0]
	items := make([]map[string]any, 1000)
	for i := range items {
		items[i] = map[string]any{"n": float64(i)}
		if i%10 == 0 {
			items[i]["s"] = "s"
		}
		if i%13 == 0 {
			items[i]["n"] = "not a number"
		}
	}
	got := rm.MapItems(context.Background(), items)
	for i, it := range items {
		res, err := rm.Map(context.Background(), it)
		if !reflect.DeepEqual(got[i].Result, res) || (got[i].Err == nil) != (err == nil) {
			t.Fatalf("item %d: MapItems %+v, Map %+v %v", i, got[i], res, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, r := range rm.MapItems(ctx, items) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("item %d after cancel: %v", i, r.Err)
		}
	}
}

func TestNativeResources(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		want      bool
	}{
		{"paths and literals", `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"', title: .a.b, properties: {n: 3, p: .p}, relations: {r: .r, s: {combinator: '"and"', rules: [{property: '"$identifier"', operator: '"="', value: .v}]}}}}}
`, true},
		{"no selector query", `
resources:
  - kind: x
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
`, true},
		{"a jq function", `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id | tostring, blueprint: '"x"'}}}
`, false},
		{"a computed selector", `
resources:
  - kind: x
    selector: {query: '.kind == "a"'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
`, false},
		{"itemsToParse", `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {itemsToParse: .list, entity: {mappings: {identifier: .item.id, blueprint: '"x"'}}}
`, false},
		{"a computed search leaf", `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"', relations: {s: {combinator: '"and"', rules: [{property: '"$identifier"', operator: '"="', value: '.v | ascii_downcase'}]}}}}}
`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compile(t, tc.yml).Resources()[0].Native(); got != tc.want {
				t.Errorf("Native() = %v, want %v", got, tc.want)
			}
		})
	}
}
