package mapping_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"oceand/mapping"
)

func TestDefaultsAreOceans(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`{}`, `{"resources": null}`} {
		cfg, err := mapping.ParseJSON([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		want := mapping.DefaultConfig()
		if cfg.EnableMergeEntity != want.EnableMergeEntity || cfg.DeleteDependentEntities != true ||
			cfg.CreateMissingRelatedEntities != true || cfg.EntityDeletionThreshold != 0.9 || cfg.Resources == nil {
			t.Errorf("%s: %+v", src, cfg)
		}
	}
	cfg, err := mapping.ParseYAML([]byte(`
resources:
  - kind: x
    port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Resources[0]
	if r.Selector.Query != "true" || r.Port.ItemsToParse != "" || r.Port.ItemsToParseName != "" || r.Port.ItemsToParseTopLevelTransform != nil {
		t.Errorf("resource defaults: %+v", r)
	}
	em := r.Port.Entity.Mappings[0]
	if em.Title != nil || em.Icon != nil || em.Team != nil || em.Properties != nil || em.Relations != nil {
		t.Errorf("unset fields are set: %+v", em)
	}
}

// TestEncodingIsWhatOceanSends: the encoded config is Ocean's
// PortAppConfig.to_request(): unset keys left out, a single mapping as an
// object, source selector keys and integration top-level keys kept.
func TestEncodingIsWhatOceanSends(t *testing.T) {
	t.Parallel()
	cfg, err := mapping.ParseYAML([]byte(`
enableMergeEntity: false
repositoryType: all
resources:
  - kind: repo
    selector:
      query: .private | not
      path: /repos
      pageSize: 100
    port:
      itemsToParse: .files
      entity:
        mappings:
          identifier: .id
          blueprint: '"repo"'
          properties: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"createMissingRelatedEntities":true,"deleteDependentEntities":true,"enableMergeEntity":false,"entityDeletionThreshold":0.9,` +
		`"repositoryType":"all","resources":[{"kind":"repo","selector":{"pageSize":100,"path":"/repos","query":".private | not"},` +
		`"port":{"entity":{"mappings":{"identifier":".id","blueprint":"\"repo\"","properties":{}}},"itemsToParse":".files"}}]}`
	if string(got) != want {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
	if ps := cfg.Resources[0].Selector.Raw["pageSize"]; ps != 100.0 {
		t.Errorf("selector pageSize = %#v, want the JSON number 100", ps)
	}
	// Port gives it back; it reads the same.
	again, err := mapping.ParseJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(again); string(b) != want {
		t.Errorf("round trip gives\n%s", b)
	}
}

// TestFileAndPortReadTheSame: the fake source's YAML mapping and the JSON
// Port returns for it decode to the same config.
func TestFileAndPortReadTheSame(t *testing.T) {
	t.Parallel()
	y, err := os.ReadFile("../sources/fake/resources/port-app-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := mapping.ParseFile("port-app-config.yml", y)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(fromFile)
	var viaJSON mapping.Config
	if err := json.Unmarshal(js, &viaJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(viaJSON.Resources[1].Port, fromFile.Resources[1].Port) || len(viaJSON.Resources) != 5 {
		t.Errorf("JSON gives %+v\nfile gives %+v", viaJSON.Resources[1].Port, fromFile.Resources[1].Port)
	}
}

// TestCoercionsLikePydantic: values of another type are read the way
// Ocean's models read them, or taken as the jq the user wrote.
func TestCoercionsLikePydantic(t *testing.T) {
	t.Parallel()
	cfg, err := mapping.ParseYAML([]byte(`
enableMergeEntity: "no"
deleteDependentEntities: 0
createMissingRelatedEntities: On
entityDeletionThreshold: "0.25"
resources:
  - kind: 42
    selector:
      query: true
    port:
      itemsToParseTopLevelTransform: "false"
      entity:
        mappings:
          identifier: .id
          blueprint: '"x"'
          properties:
            answer: 42
            ratio: 1.50
            inf: .inf
            flag: yes
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EnableMergeEntity || cfg.DeleteDependentEntities || !cfg.CreateMissingRelatedEntities || cfg.EntityDeletionThreshold != 0.25 {
		t.Errorf("flags: %+v", cfg)
	}
	r := cfg.Resources[0]
	if r.Kind != "42" || r.Selector.Query != "true" || *r.Port.ItemsToParseTopLevelTransform {
		t.Errorf("resource: %+v", r)
	}
	want := map[string]string{"answer": "42", "ratio": "1.50", "inf": ".inf", "flag": "yes"}
	if got := r.Port.Entity.Mappings[0].Properties; !reflect.DeepEqual(got, want) {
		t.Errorf("properties = %v, want %v", got, want)
	}
}

// TestParseProblems: every problem of a mapping is reported at once, with
// the key and, for a file, the line and column.
func TestParseProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yml string
		want      []string
	}{
		{"empty", ``, []string{"the mapping is empty"}},
		{"not an object", `- a`, []string{"must be an object with a resources list, got a list"}},
		{"bad YAML", "resources:\n  - kind: x\n   port: y", []string{"m.yml:3:", "invalid YAML"}},
		{"every problem", `
entityDeletionThreshold: 2
enableMergeEntity: maybe
resources:
  - selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id}}}
  - kind: b
    selector: [true]
    port:
      entity:
        mappings:
          identifier: {rules: [{property: '"p"'}]}
          blueprint: ['"b"']
          properties: {p: null}
  - kind: c
`, []string{
			"m.yml:2:26: entityDeletionThreshold: must be between 0 and 1",
			`m.yml:3:20: enableMergeEntity: must be true or false, got the string "maybe"`,
			"m.yml:5:5: resources[0].kind: required",
			"resources[0].port.entity.mappings.blueprint: required",
			"m.yml:8:5: resources[1].selector: must be an object with a query, got a list",
			"resources[1].port.entity.mappings.identifier.combinator: required in a search query",
			"resources[1].port.entity.mappings.identifier.rules[0].operator: required in a search rule",
			"m.yml:13:11: resources[1].port.entity.mappings.blueprint: must be a jq expression (a string), got a list",
			"m.yml:14:27: resources[1].port.entity.mappings.properties.p: must be a jq expression, got null",
			"resources[2].port: required",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mapping.ParseFile("m.yml", []byte(tc.yml))
			var pe *mapping.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%s", w, err)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	cfg, err := mapping.ParseFile("m.yml", []byte(`
enableMergeEntitiy: true
customTopLevel: kept
resources:
  - kind: x
    selector: {query: 'true'}
    port:
      itemsToParse: '[.a[], .b[]]'
      entity:
        mappings:
          identifier: .id
          blueprint: '"x"'
          propertes: {a: .a}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings() {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{
		"m.yml:2:1: enableMergeEntitiy: unknown key, kept as given; did you mean enableMergeEntity?",
		"m.yml:13:11: resources[0].port.entity.mappings.propertes: unknown key, ignored; did you mean properties?",
		"m.yml:8:21: resources[0].port.itemsToParse: no simple path",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings lack %q:\n%s", w, all)
		}
	}
	if strings.Contains(all, "customTopLevel") {
		t.Errorf("an integration's own top-level key is warned about:\n%s", all)
	}
}

// TestCompileErrors: every expression that does not compile is reported,
// with its resource, kind and field, the column in the expression and the
// place in the file.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	yml := `resources:
  - kind: a
    selector:
      query: .x ==
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"a"'
          title: "nosuch(.x)"
          properties:
            plain: .a | | .b
            single: '.a | [ .b'
            block: |
              .a + )
  - kind: b
    selector: {query: 'true'}
    port:
      itemsToParse: .["a]b"]
      entity: {mappings: {identifier: .id, blueprint: '"b"', relations: {r: {combinator: '"and"', rules: [{property: '"p"', operator: '"="', value: '$undefined'}]}}}}
`
	cfg, err := mapping.ParseFile("m.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mapping.Compile(cfg, mapping.Options{})
	if err == nil {
		t.Fatal("compile accepted jq syntax errors")
	}
	want := []string{
		`m.yml:4:19: resources[0] (kind a) selector.query: jq syntax error: unexpected EOF at column 6 of ".x =="`,
		`m.yml:10:19: resources[0] (kind a) port.entity.mappings.title: function not defined: nosuch/1 at column 1 of "nosuch(.x)"`,
		`m.yml:12:25: resources[0] (kind a) port.entity.mappings.properties.plain: jq syntax error: unexpected token "|" at column 6`,
		`m.yml:13:31: resources[0] (kind a) port.entity.mappings.properties.single: jq syntax error: unexpected EOF at column 10`,
		`m.yml:14:20: resources[0] (kind a) port.entity.mappings.properties.block: jq syntax error: unexpected token ")"`,
		`resources[1] (kind b) port.itemsToParse: the top-level transform ". | del(.[\"a])" derived from it does not compile`,
		`m.yml:20:150: resources[1] (kind b) port.entity.mappings.relations.r.rules[0].value: variable not defined: $undefined at column 1`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(lines), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%s", w, err)
		}
	}
	var ce *mapping.CompileError
	if !errors.As(err, &ce) || ce.Resource != 0 || ce.Kind != "a" || ce.Field != "selector.query" || ce.Offset != 5 {
		t.Fatalf("first error = %+v", ce)
	}
	if got := ce.Caret(); got != ".x ==\n     ^" {
		t.Errorf("caret:\n%s", got)
	}

	// From Port (JSON) there is no file position, the rest is the same.
	js, _ := json.Marshal(cfg)
	fromPort, err := mapping.ParseJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mapping.Compile(fromPort, mapping.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), `resources[0] (kind a) selector.query: jq syntax error: unexpected EOF at column 6 of ".x =="`) {
		t.Errorf("from Port: %v", err)
	}
}
