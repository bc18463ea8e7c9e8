package emulator_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"oceand/port/emulator"
)

func searchHarness(t *testing.T) *harness {
	h := newHarness(t, emulator.Config{TokenTTL: 24 * time.Hour})
	h.blueprint(map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{"properties": map[string]any{
		"lang": map[string]any{"type": "string"}, "stars": map[string]any{"type": "number"},
		"tags": map[string]any{"type": "array"}, "on": map[string]any{"type": "boolean"},
	}}})
	h.blueprint(map[string]any{"identifier": "team", "title": "T", "schema": map[string]any{}})
	write := func(ua, bp string, e map[string]any) {
		h.ua = ua
		h.call(201, "POST", "/v1/blueprints/"+bp+"/entities?upsert=true", e)
		h.clock.Add(time.Hour)
	}
	ocean := "port-ocean/fake/1.0/it/exporter"
	write(ocean, "svc", map[string]any{"identifier": "api", "title": "API", "team": []any{"core"}, "properties": map[string]any{"lang": "go", "stars": 10.0, "tags": []any{"x", "y"}, "on": true}})
	write(ocean, "svc", map[string]any{"identifier": "web", "title": "Web", "properties": map[string]any{"lang": "ts", "stars": 3.0, "tags": []any{"y"}, "on": false}})
	write("port-ocean/fake/1.0/other/exporter", "svc", map[string]any{"identifier": "cli", "properties": map[string]any{"lang": "go", "stars": 1.0}})
	write(ocean, "team", map[string]any{"identifier": "core", "title": "Core"})
	return h
}

func (h *harness) search(q map[string]any, query string) ([]string, []any) {
	h.t.Helper()
	out := h.call(200, "POST", "/v1/entities/search"+query, q)
	var ids []string
	for _, e := range out["entities"].([]any) {
		ids = append(ids, fmt.Sprint(e.(map[string]any)["identifier"]))
	}
	sort.Strings(ids)
	return ids, out["entities"].([]any)
}

func rule(prop, op string, value any) map[string]any {
	r := map[string]any{"property": prop, "operator": op}
	if value != nil {
		r["value"] = value
	}
	return r
}

func and(rules ...any) map[string]any {
	return map[string]any{"combinator": "and", "rules": append([]any{}, rules...)}
}

func or(rules ...any) map[string]any {
	return map[string]any{"combinator": "or", "rules": append([]any{}, rules...)}
}

func TestSearchRules(t *testing.T) {
	t.Parallel()
	h := searchHarness(t)
	start := "2026-03-01T12:00:00Z"
	tests := []struct {
		name string
		q    map[string]any
		want string
	}{
		{"=", and(rule("lang", "=", "go")), "[api cli]"},
		{"= is typed", and(rule("stars", "=", "10")), "[]"},
		{"!=", and(rule("$blueprint", "=", "svc"), rule("lang", "!=", "go")), "[web]"},
		{"in", and(rule("$identifier", "in", []any{"api", "web", "nope"})), "[api web]"},
		{"notIn", and(rule("$blueprint", "=", "svc"), rule("$identifier", "notIn", []any{"api"})), "[cli web]"},
		{"contains string", and(rule("$title", "contains", "P")), "[api]"},
		{"contains array", and(rule("tags", "contains", "x")), "[api]"},
		{"doesNotContains", and(rule("$blueprint", "=", "svc"), rule("tags", "doesNotContains", "x")), "[cli web]"},
		{"containsAny", and(rule("tags", "containsAny", []any{"x", "y"})), "[api web]"},
		{"beginsWith", and(rule("$identifier", "beginsWith", "w")), "[web]"},
		{"doesNotBeginsWith", and(rule("$blueprint", "=", "svc"), rule("$identifier", "doesNotBeginsWith", "w")), "[api cli]"},
		{"endsWith", and(rule("$identifier", "endsWith", "i")), "[api cli]"},
		{"doesNotEndsWith", and(rule("$blueprint", "=", "svc"), rule("$identifier", "doesNotEndsWith", "i")), "[web]"},
		{"isEmpty", and(rule("$blueprint", "=", "svc"), rule("$title", "isEmpty", nil)), "[cli]"},
		{"isNotEmpty", and(rule("tags", "isNotEmpty", nil)), "[api web]"},
		{">", and(rule("stars", ">", 3.0)), "[api]"},
		{">=", and(rule("stars", ">=", 3.0)), "[api web]"},
		{"<", and(rule("stars", "<", 3.0)), "[cli]"},
		{"<=", and(rule("stars", "<=", 3.0)), "[cli web]"},
		{"boolean =", and(rule("on", "=", false)), "[web]"},
		{"$team", and(rule("$team", "=", "core")), "[api]"},
		{"$createdAt between", and(rule("$createdAt", "between", map[string]any{"from": start, "to": "2026-03-01T13:30:00Z"})), "[api web]"},
		{"$updatedAt >", and(rule("$updatedAt", ">", "2026-03-01T13:30:00Z")), "[cli core]"},
		{"notBetween", and(rule("$blueprint", "=", "svc"), rule("$createdAt", "notBetween", map[string]any{"from": start, "to": "2026-03-01T13:30:00Z"})), "[cli]"},
		{"preset", and(rule("$createdAt", "between", map[string]any{"preset": "lastWeek"})), "[api cli core web]"},
		{"$datasource contains", and(rule("$datasource", "contains", "/it/exporter")), "[api core web]"},
		{"Ocean's ownership rules", and(rule("$identifier", "in", []any{"api", "cli"}), rule("$blueprint", "=", "svc"),
			rule("$datasource", "contains", "port-ocean/fake/"), rule("$datasource", "contains", "/it/exporter")), "[api]"},
		{"nested or", and(or(and(rule("$identifier", "=", "api"), rule("$blueprint", "=", "svc")), and(rule("$identifier", "=", "core"), rule("$blueprint", "=", "team")))), "[api core]"},
		{"empty and", and(), "[api cli core web]"},
		{"empty or", or(), "[]"},
		{"context property", and(map[string]any{"property": map[string]any{"property": "lang", "context": "user"}, "operator": "=", "value": "ts"}), "[web]"},
	}
	for _, tt := range tests {
		if ids, _ := h.search(tt.q, ""); fmt.Sprint(ids) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, ids, tt.want)
		}
	}

	bad := []struct {
		name string
		q    any
	}{
		{"no combinator", map[string]any{"rules": []any{}}},
		{"bad combinator", map[string]any{"combinator": "xor", "rules": []any{}}},
		{"rules not an array", map[string]any{"combinator": "and", "rules": "x"}},
		{"unknown operator", and(rule("lang", "like", "go"))},
		{"no operator", and(map[string]any{"property": "lang", "value": "go"})},
		{"no property", and(map[string]any{"operator": "=", "value": "go"})},
		{"no value", and(rule("lang", "=", nil))},
		{"in without an array", and(rule("lang", "in", "go"))},
		{"between without dates", and(rule("$createdAt", "between", map[string]any{"from": "x", "to": "y"}))},
		{"unknown preset", and(rule("$createdAt", "between", map[string]any{"preset": "lastCentury"}))},
		{"nested malformed", and(or(rule("lang", "=", nil)))},
		{"extra top-level key", map[string]any{"combinator": "and", "rules": []any{}, "limit": 5}},
		{"relatedTo", and(map[string]any{"operator": "relatedTo", "blueprint": "svc", "value": "api"})},
	}
	for _, tt := range bad {
		status, body := h.raw("POST", "/v1/entities/search", tt.q, nil)
		wantError(t, tt.name, status, body, 422, "invalid_request")
	}
}

func TestSearchIncludeExclude(t *testing.T) {
	t.Parallel()
	h := searchHarness(t)
	q := and(rule("$identifier", "=", "api"))
	_, got := h.search(q, "?exclude_calculated_properties=true&include=blueprint&include=identifier&include=properties.lang&include=$title")
	e := got[0].(map[string]any)
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "blueprint,identifier,properties,title" || fmt.Sprint(e["properties"]) != "map[lang:go]" {
		t.Errorf("included = %v", e)
	}
	_, got = h.search(q, "?exclude=properties.tags&exclude=relations")
	e = got[0].(map[string]any)
	if _, has := e["relations"]; has {
		t.Errorf("relations not excluded: %v", e)
	}
	if p := e["properties"].(map[string]any); p["tags"] != nil || p["lang"] != "go" {
		t.Errorf("properties after exclude = %v", p)
	}
}
