package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"oceand/internal/yamlsafe"
)

// spec is the configurations section of a source's .port/spec.yaml.
type spec struct {
	fields []*specField
	byKey  map[string]*specField // by snake_case key
}

// specField is one integration.config setting declared by a source.
type specField struct {
	Name       string // camelCase, as in the spec
	Type       string // string|integer|boolean|url|object|array
	Required   bool
	Default    any // coerced to Type; valid when HasDefault
	HasDefault bool
	Sensitive  bool
	key        string // snake_case
}

var specTypes = []string{"string", "integer", "boolean", "url", "object", "array"}

// parseSpec reads a spec.yaml or spec.json (JSON is YAML).
func parseSpec(data []byte) (*spec, error) {
	parsed, err := yamlsafe.Parse(data, yamlsafe.Limits{})
	if err != nil {
		return nil, fmt.Errorf("not a YAML or JSON object: %w", err)
	}
	doc, ok := parsed.Value.(map[string]any)
	if !ok && parsed.Value != nil {
		return nil, fmt.Errorf("not a YAML or JSON object")
	}
	sp := &spec{byKey: map[string]*specField{}}
	raw, ok := doc["configurations"]
	if !ok || raw == nil {
		return sp, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("configurations: must be a list")
	}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("configurations[%d]: must be an object", i)
		}
		f := &specField{}
		f.Name, _ = m["name"].(string)
		if f.Name == "" {
			return nil, fmt.Errorf("configurations[%d]: name is required", i)
		}
		where := fmt.Sprintf("configurations[%d] (%s)", i, f.Name)
		f.Type, _ = m["type"].(string)
		if !slices.Contains(specTypes, f.Type) {
			return nil, fmt.Errorf("%s: unknown type %q; use %s", where, m["type"], strings.Join(specTypes, ", "))
		}
		f.Required, _ = m["required"].(bool)
		f.Sensitive, _ = m["sensitive"].(bool)
		f.key = Decamelize(f.Name)
		if d, ok := m["default"]; ok && d != nil {
			v, ok := f.coerce(fromJSON(d, Origin{}))
			if !ok {
				return nil, fmt.Errorf("%s: default %v is not %s", where, d, f.want())
			}
			f.Default, f.HasDefault = v, true
		}
		if _, dup := sp.byKey[f.key]; dup {
			return nil, fmt.Errorf("%s: declared twice", where)
		}
		sp.fields = append(sp.fields, f)
		sp.byKey[f.key] = f
	}
	return sp, nil
}

func (f *specField) want() string {
	switch f.Type {
	case "integer":
		return "an integer"
	case "boolean":
		return "a boolean (true or false)"
	case "url":
		return "an http(s) URL"
	case "object":
		return "an object (or a JSON object string)"
	case "array":
		return "a list (or a JSON array string)"
	}
	return "a string"
}

// coerce converts a value to the field's type as Ocean's spec model does:
// env strings to numbers and booleans, JSON strings to objects and lists,
// a URL without its trailing slash.
func (f *specField) coerce(v *value) (any, bool) {
	switch f.Type {
	case "string":
		return asString(v)
	case "integer":
		return asInt(v)
	case "boolean":
		return asBool(v)
	case "url":
		s, ok := asString(v)
		if !ok {
			return nil, false
		}
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, false
		}
		return s, true
	case "object", "array":
		want := objectValue
		if f.Type == "array" {
			want = listValue
		}
		if s, ok := v.scalar.(string); ok && v.kind == scalarValue {
			var j any
			if json.Unmarshal([]byte(strings.TrimSpace(s)), &j) != nil {
				return nil, false
			}
			v = fromJSON(j, v.origin)
		}
		if v.kind != want {
			return nil, false
		}
		return v.plain(), true
	}
	return nil, false
}

// ApplySpec checks integration.config against a source's spec (the bytes
// of its spec.yaml or spec.json) and replaces it with the checked config:
// values converted to their declared types, defaults filled in, URLs
// without a trailing slash. Keys the spec does not declare are kept and
// warned about. Sensitive fields are redacted from then on. Applying the
// same spec again changes nothing. An empty spec accepts any config.
func (s *Settings) ApplySpec(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	m := s.ensureMeta()
	sp, err := parseSpec(data)
	if err != nil {
		return &ValidationError{Problems: []Problem{{Key: "integration.config", Message: "the source's spec: " + err.Error()}}}
	}
	m.spec = sp
	m.specWarnings = nil
	var problems []Problem
	in := s.Integration.Config
	out := make(map[string]any, len(in))
	for _, f := range sp.fields {
		path := "integration.config." + f.key
		raw, ok := in[f.key]
		var v *value
		if ok && raw != nil {
			v = m.valueAt(path, raw)
			if str, isStr := raw.(string); isStr && strings.TrimSpace(str) == "" && f.Type != "string" {
				v = nil // an empty variable means "not set"
			}
		}
		if v == nil {
			switch {
			case f.HasDefault:
				out[f.key] = f.Default
			case f.Required:
				problems = append(problems, m.required(path))
			}
			continue
		}
		cv, ok := f.coerce(v)
		if !ok {
			problems = append(problems, Problem{Key: m.display(path), Origin: v.origin, Message: "must be " + f.want() + ", got " + m.show(path, v)})
			continue
		}
		out[f.key] = cv
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if sp.byKey[k] != nil {
			continue
		}
		out[k] = in[k]
		path := "integration.config." + k
		if m.specTypo(path) {
			problems = append(problems, Problem{Key: m.display(path), Origin: m.origins[path],
				Message: "not a setting of this source; did you mean " + m.suggestSpec(path) + "? (a variable one letter from a setting is refused: that setting would silently keep its default)"})
			continue
		}
		msg := "not a setting of this source (see its spec); passed on as given"
		if sug := m.suggestSpec(path); sug != "" {
			msg += "; did you mean " + sug + "?"
		}
		m.specWarnings = append(m.specWarnings, Problem{Key: m.display(path), Origin: m.origins[path], Message: msg, Warning: true})
	}
	s.Integration.Config = out
	return errorOf(problems)
}

// valueAt rebuilds a tree for a plain value with the origins recorded
// when it was loaded.
func (m *meta) valueAt(path string, raw any) *value {
	v := fromJSON(raw, m.origins[path])
	var fix func(string, *value)
	fix = func(p string, v *value) {
		if o, ok := m.origins[p]; ok {
			v.origin = o
		}
		for k, c := range v.fields {
			fix(join(p, k), c)
		}
		for i, c := range v.items {
			fix(fmt.Sprintf("%s[%d]", p, i), c)
		}
	}
	fix(path, v)
	return v
}
