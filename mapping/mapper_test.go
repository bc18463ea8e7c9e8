package mapping_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"oceand/mapping"
)

func compile(t *testing.T, yml string) *mapping.Mapping {
	t.Helper()
	cfg, err := mapping.ParseYAML([]byte(yml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m, err := mapping.Compile(cfg, mapping.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return m
}

func item(t *testing.T, js string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	return v
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
	_, err = r.Map(context.Background(), item(t, `{"id":"p3","active":"yes"}`))
	var ie *mapping.ItemError
	if err == nil || !asItemError(err, &ie) || ie.Field != "selector.query" {
		t.Errorf("non-boolean selector: err = %v", err)
	}
}

func asItemError(err error, target **mapping.ItemError) bool {
	ie, ok := err.(*mapping.ItemError)
	*target = ie
	return ok
}

func TestDropsEntitiesWithoutIdentifier(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: x
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
`)
	res, err := m.Resources()[0].Map(context.Background(), item(t, `{"name":"no id"}`))
	if err != nil || res.Dropped != 1 || len(res.Entities) != 0 {
		t.Errorf("res = %+v, err = %v", res, err)
	}
}

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
          blueprint: '"user"'
`)
	res, err := m.Resources()[0].Map(context.Background(), item(t, `{"email":"a@b"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "email", "operator": "=", "value": "a@b"}}}
	if !reflect.DeepEqual(res.Entities[0]["identifier"], want) {
		t.Errorf("identifier = %v", res.Entities[0]["identifier"])
	}
}

func TestItemsToParse(t *testing.T) {
	t.Parallel()
	m := compile(t, `
resources:
  - kind: repo
    selector: {query: 'true'}
    port:
      itemsToParse: .files
      entity:
        mappings:
          identifier: .repo + "/" + .item.path
          blueprint: '"file"'
          properties:
            size: .item.size
            stillHasFiles: has("files")
`)
	res, err := m.Resources()[0].Map(context.Background(), item(t, `{"repo":"r","files":[{"path":"a","size":1},{"path":"b","size":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entities) != 2 || res.Entities[1]["identifier"] != "r/b" {
		t.Fatalf("entities = %v", res.Entities)
	}
	if res.Entities[0]["properties"].(map[string]any)["stillHasFiles"] != false {
		t.Errorf("the parsed array was not removed from the item: %v", res.Entities[0])
	}
}

func TestCompileErrorNamesTheField(t *testing.T) {
	t.Parallel()
	cfg, err := mapping.ParseYAML([]byte(`
resources:
  - kind: a
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"a"'}}}
  - kind: b
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"b"', properties: {bad: '.x | | .y'}}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mapping.Compile(cfg, mapping.Options{})
	if err == nil {
		t.Fatal("compile accepted a jq syntax error")
	}
	for _, want := range []string{"resources[1]", "kind b", "properties.bad", "column 6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestJQEnvIsClosedByDefault(t *testing.T) {
	t.Parallel()
	cfg, _ := mapping.ParseYAML([]byte(`
resources:
  - kind: a
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"a"', properties: {secret: env.SECRET_TOKEN, allowed: $ENV.REGION}}}}
`))
	lookup := func(k string) (string, bool) {
		switch k {
		case "SECRET_TOKEN":
			return "hunter2", true
		case "REGION":
			return "eu", true
		}
		return "", false
	}
	m, err := mapping.Compile(cfg, mapping.Options{EnvAllowList: []string{"REGION"}, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Resources()[0].Map(context.Background(), map[string]any{"id": "1"})
	if err != nil {
		t.Fatal(err)
	}
	props := res.Entities[0]["properties"].(map[string]any)
	if props["secret"] != nil || props["allowed"] != "eu" {
		t.Errorf("properties = %v, want secret null and allowed eu", props)
	}
}
