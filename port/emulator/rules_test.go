package emulator_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"oceand/port/emulator"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{TokenTTL: time.Hour})
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"missing secret", map[string]any{"clientId": "id"}, 422, "invalid_request"},
		{"extra field", map[string]any{"clientId": "id", "clientSecret": "secret", "x": 1}, 422, "invalid_request"},
		{"not JSON", "{", 422, "invalid_request"},
		{"wrong secret", map[string]any{"clientId": "id", "clientSecret": "nope"}, 401, "unauthorized"},
	}
	for _, tt := range tests {
		status, body := h.raw("POST", "/v1/auth/access_token", tt.body, nil)
		wantError(t, tt.name, status, body, tt.wantStatus, tt.wantCode)
	}

	_, again := h.raw("POST", "/v1/auth/access_token", map[string]any{"clientId": "id", "clientSecret": "secret"}, nil)
	if again["accessToken"] != h.token || again["tokenType"] != "Bearer" || again["ok"] != true {
		t.Errorf("second token request = %v, want the same token %q", again, h.token)
	}
	if n := strings.Count(h.token, "."); n != 2 {
		t.Errorf("token %q is not JWT-shaped", h.token)
	}
	if exp, _ := again["expiresIn"].(float64); exp != 3600 {
		t.Errorf("expiresIn = %v, want 3600", again["expiresIn"])
	}

	h.call(200, "GET", "/v1/organization", nil)
	for name, hdr := range map[string]map[string]string{
		"no token":      {"Authorization": ""},
		"unknown token": {"Authorization": "Bearer nope"},
		"basic auth":    {"Authorization": "Basic aWQ6c2VjcmV0"},
	} {
		status, body := h.raw("GET", "/v1/organization", nil, hdr)
		wantError(t, name, status, body, 401, "unauthorized")
	}
	h.clock.Add(time.Hour)
	status, body := h.raw("GET", "/v1/organization", nil, nil)
	wantError(t, "expired token", status, body, 401, "unauthorized")
	_, fresh := h.raw("POST", "/v1/auth/access_token", map[string]any{"clientId": "id", "clientSecret": "secret"}, nil)
	if fresh["accessToken"] == h.token {
		t.Error("an expired token was handed out again")
	}
}

func TestOrganizationRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{OrgID: "org_1"})
	org := h.call(200, "GET", "/v1/organization", nil)["organization"].(map[string]any)
	if org["id"] != "org_1" || org["featureFlags"] == nil {
		t.Errorf("organization = %v", org)
	}
	creds := h.call(200, "GET", "/v1/kafka-credentials", nil)["credentials"].(map[string]any)
	if creds["username"] == "" || creds["password"] == "" {
		t.Errorf("credentials = %v", creds)
	}
	if got := h.call(200, "GET", "/v1/integration/provision-enabled", nil)["integrations"]; fmt.Sprint(got) != "[]" {
		t.Errorf("provision-enabled = %v", got)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	big := `{"identifier":"svc","title":"` + strings.Repeat("x", 1<<20) + `"}`
	status, body := h.raw("POST", "/v1/blueprints", big, nil)
	wantError(t, "1 MiB body", status, body, 413, "bad_request")
}

func TestIntegrationRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	status, body := h.raw("GET", "/v1/integration/it", nil, nil)
	wantError(t, "unknown integration", status, body, 404, "not_found")
	status, body = h.raw("POST", "/v1/integration", map[string]any{"title": "x"}, nil)
	wantError(t, "no installationId", status, body, 422, "invalid_request")

	created := h.call(200, "POST", "/v1/integration", map[string]any{
		"installationId": "it", "installationAppType": "fake", "version": "1.0.0",
		"changelogDestination": map[string]any{}, "actionsProcessingEnabled": false,
		"incrementalSyncEnabled": false, "createPortResourcesOrigin": "Default", "config": map[string]any{},
	})["integration"].(map[string]any)
	for k, want := range map[string]any{"identifier": "it", "installationId": "it", "installationType": "OnPrem", "version": "1.0.0", "createPortResourcesOrigin": "Default"} {
		if created[k] != want {
			t.Errorf("integration[%s] = %v, want %v", k, created[k], want)
		}
	}
	state := created["resyncState"].(map[string]any)
	if _, ok := state["intervalInMinuets"]; !ok {
		t.Errorf("resyncState has no intervalInMinuets: %v", state)
	}
	logs := created["logAttributes"].(map[string]any)["ingestUrl"].(string)
	if !strings.HasPrefix(logs, h.srv.URL+"/ingest/") {
		t.Errorf("log ingestUrl = %q, want one on %s", logs, h.srv.URL)
	}
	h.call(200, "POST", strings.TrimPrefix(logs, h.srv.URL), map[string]any{"logs": []any{}})

	status, body = h.raw("POST", "/v1/integration", map[string]any{"installationId": "it"}, nil)
	wantError(t, "duplicate integration", status, body, 409, "identifier_taken")
	up := h.call(200, "POST", "/v1/integration?upsert=true", map[string]any{"installationId": "it", "version": "2.0.0"})["integration"].(map[string]any)
	if up["version"] != "2.0.0" || up["installationAppType"] != "fake" {
		t.Errorf("upsert = %v, want version updated and the rest kept", up)
	}

	patched := h.call(200, "PATCH", "/v1/integration/it", map[string]any{
		"processingMode": "ocean-core", "arePortResourcesInitialized": true, "extra": map[string]any{"a": 1.0},
	})["integration"].(map[string]any)
	if patched["processingMode"] != "ocean-core" || patched["arePortResourcesInitialized"] != true || patched["extra"] == nil {
		t.Errorf("patch did not echo every field: %v", patched)
	}
	status, body = h.raw("PATCH", "/v1/integration/nope", map[string]any{}, nil)
	wantError(t, "patch unknown", status, body, 404, "not_found")
	status, body = h.raw("PATCH", "/v1/integration/it/config", map[string]any{"config": map[string]any{}, "x": 1}, nil)
	wantError(t, "config with an extra key", status, body, 422, "invalid_request")
	status, body = h.raw("PATCH", "/v1/integration/it/resync-state", map[string]any{"status": "sleeping"}, nil)
	wantError(t, "bad resync status", status, body, 422, "invalid_request")

	h.clock.Add(time.Second)
	after := h.call(200, "PATCH", "/v1/integration/it/resync-state", map[string]any{"status": "running", "intervalInMinuets": 60.0})["integration"].(map[string]any)
	st := after["resyncState"].(map[string]any)
	if st["status"] != "running" || st["intervalInMinuets"] != 60.0 || st["updatedAt"] != after["updatedAt"] {
		t.Errorf("resync state = %v, integration updatedAt %v", st, after["updatedAt"])
	}
	h.call(200, "DELETE", "/v1/integration/it", nil)
	status, body = h.raw("GET", "/v1/integration/it", nil, nil)
	wantError(t, "deleted integration", status, body, 404, "not_found")
}

func TestResyncRequests(t *testing.T) {
	t.Parallel()
	hooks := make(chan string, 10)
	h := newHarness(t, emulator.Config{})
	hook := newHookServer(t, hooks)
	h.call(200, "POST", "/v1/integration", map[string]any{"installationId": "it", "changelogDestination": map[string]any{"type": "WEBHOOK", "url": hook}})
	latest := func() string {
		t.Helper()
		req, _ := h.call(200, "GET", "/v1/integration/it/resync-request", nil)["request"].(map[string]any)
		s, _ := req["updatedAt"].(string)
		return s
	}
	if got := latest(); got != "" {
		t.Fatalf("new integration has a resync request at %s", got)
	}
	steps := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    map[string]string
		want   bool
	}{
		{"version patch", "PATCH", "/v1/integration/it", map[string]any{"version": "2"}, nil, false},
		{"empty patch (simple resync)", "PATCH", "/v1/integration/it", map[string]any{}, nil, true},
		{"config patch", "PATCH", "/v1/integration/it", map[string]any{"config": map[string]any{"resources": []any{}}}, nil, true},
		{"config patch, x-skip-resync", "PATCH", "/v1/integration/it", map[string]any{"config": map[string]any{}}, map[string]string{"x-skip-resync": "true"}, false},
		{"config route", "PATCH", "/v1/integration/it/config", map[string]any{"config": map[string]any{"resources": []any{}}}, nil, true},
		{"config route, x-skip-resync", "PATCH", "/v1/integration/it/config", map[string]any{"config": nil}, map[string]string{"x-skip-resync": "true"}, false},
		{"resync state", "PATCH", "/v1/integration/it/resync-state", map[string]any{"status": "completed"}, nil, false},
	}
	prev := ""
	for _, s := range steps {
		h.clock.Add(time.Second)
		if status, body := h.raw(s.method, s.path, s.body, s.hdr); status != 200 {
			t.Fatalf("%s: %d %v", s.name, status, body)
		}
		got := latest()
		if (got != prev) != s.want {
			t.Errorf("%s: resync request %q -> %q, want new = %v", s.name, prev, got, s.want)
		}
		if s.want {
			if id := <-hooks; id != "it" {
				t.Errorf("%s: webhook announced %q", s.name, id)
			}
		}
		prev = got
	}
	h.emu.RequestResync("it")
	if latest() == prev {
		t.Error("RequestResync made no new request")
	}
	<-hooks
	select {
	case id := <-hooks:
		t.Errorf("an unexpected webhook for %q", id)
	default:
	}
}

func TestBlueprintRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	h.blueprint(map[string]any{"identifier": "team", "title": "Team", "schema": map[string]any{"properties": map[string]any{}}})
	bad := []struct {
		name string
		bp   map[string]any
	}{
		{"identifier with a space", map[string]any{"identifier": "a b", "title": "T", "schema": map[string]any{}}},
		{"identifier with =", map[string]any{"identifier": "a=b", "title": "T", "schema": map[string]any{}}},
		{"identifier .", map[string]any{"identifier": ".", "title": "T", "schema": map[string]any{}}},
		{"identifier of 101 chars", map[string]any{"identifier": strings.Repeat("a", 101), "title": "T", "schema": map[string]any{}}},
		{"no title", map[string]any{"identifier": "x", "schema": map[string]any{}}},
		{"no schema", map[string]any{"identifier": "x", "title": "T"}},
		{"property id with a dot", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{"properties": map[string]any{"a.b": map[string]any{"type": "string"}}}}},
		{"property without type", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{"properties": map[string]any{"a": map[string]any{}}}}},
		{"unknown format", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{"properties": map[string]any{"a": map[string]any{"type": "string", "format": "phone"}}}}},
		{"required not a property", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{"properties": map[string]any{}, "required": []any{"a"}}}},
		{"relation to a missing blueprint", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{}, "relations": map[string]any{"r": map[string]any{"target": "nope", "required": false, "many": false}}}},
		{"relation many and required", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{}, "relations": map[string]any{"r": map[string]any{"target": "team", "required": true, "many": true}}}},
		{"relation without target", map[string]any{"identifier": "x", "title": "T", "schema": map[string]any{}, "relations": map[string]any{"r": map[string]any{"required": false, "many": false}}}},
	}
	for _, tt := range bad {
		status, body := h.raw("POST", "/v1/blueprints", tt.bp, nil)
		wantError(t, tt.name, status, body, 422, "invalid_request")
	}
	if got := h.emu.Blueprints(); len(got) != 1 {
		t.Errorf("blueprints after invalid creations = %v", got)
	}

	h.blueprint(map[string]any{"identifier": "svc", "title": "Service", "schema": map[string]any{"properties": map[string]any{"a": map[string]any{"type": "string"}}}})
	status, body := h.raw("POST", "/v1/blueprints", map[string]any{"identifier": "svc", "title": "Again", "schema": map[string]any{}}, nil)
	wantError(t, "duplicate blueprint", status, body, 409, "identifier_taken")
	status, body = h.raw("GET", "/v1/blueprints/nope", nil, nil)
	wantError(t, "unknown blueprint", status, body, 404, "not_found")
	got := h.call(200, "GET", "/v1/blueprints/svc", nil)["blueprint"].(map[string]any)
	if got["relations"] == nil || got["schema"] == nil || got["createdAt"] == nil {
		t.Errorf("blueprint = %v, want schema, relations and timestamps", got)
	}

	// Ocean's staged creation: PATCH relations, then more properties.
	h.call(200, "PATCH", "/v1/blueprints/svc", map[string]any{"relations": map[string]any{"team": map[string]any{"target": "team", "required": false, "many": false}}})
	patched := h.call(200, "PATCH", "/v1/blueprints/svc", map[string]any{"schema": map[string]any{"properties": map[string]any{"b": map[string]any{"type": "number"}}}})["blueprint"].(map[string]any)
	props := patched["schema"].(map[string]any)["properties"].(map[string]any)
	if props["a"] == nil || props["b"] == nil || patched["relations"].(map[string]any)["team"] == nil {
		t.Errorf("patched blueprint = %v, want properties a, b and relation team", patched)
	}
	status, body = h.raw("PATCH", "/v1/blueprints/svc", map[string]any{"schema": map[string]any{"properties": map[string]any{"c": map[string]any{"type": "date"}}}}, nil)
	wantError(t, "patch with a bad type", status, body, 422, "invalid_request")
	status, body = h.raw("PATCH", "/v1/blueprints/nope", map[string]any{}, nil)
	wantError(t, "patch unknown", status, body, 404, "not_found")

	h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true", map[string]any{"identifier": "e1"})
	status, body = h.raw("DELETE", "/v1/blueprints/svc", nil, nil)
	wantError(t, "delete a blueprint with entities", status, body, 409, "has_entities")
	mig := h.call(200, "DELETE", "/v1/blueprints/svc/all-entities?delete_blueprint=true", nil)["migrationId"].(string)
	m := h.call(200, "GET", "/v1/migrations/"+mig, nil)["migration"].(map[string]any)
	if m["status"] != "COMPLETE" || m["sourceBlueprint"] != "svc" {
		t.Errorf("migration = %v", m)
	}
	if len(h.emu.Blueprints()) != 1 {
		t.Errorf("blueprints after all-entities with delete_blueprint = %v", h.emu.Blueprints())
	}
	h.call(200, "DELETE", "/v1/blueprints/team", nil)
	status, body = h.raw("DELETE", "/v1/blueprints/team", nil, nil)
	wantError(t, "delete twice", status, body, 404, "not_found")
}

func TestUnknownBlueprintOnEntityRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	routes := []struct{ method, path string }{
		{"POST", "/v1/blueprints/nope/entities?upsert=true"},
		{"POST", "/v1/blueprints/nope/entities/bulk?upsert=true"},
		{"GET", "/v1/blueprints/nope/entities"},
		{"GET", "/v1/blueprints/nope/entities/e1"},
		{"DELETE", "/v1/blueprints/nope/entities/e1"},
		{"POST", "/v1/blueprints/nope/bulk/entities/delete"},
		{"DELETE", "/v1/blueprints/nope/all-entities"},
	}
	for _, r := range routes {
		var body any
		if r.method == "POST" {
			body = map[string]any{"identifier": "e1", "entities": []any{"e1"}}
			if strings.HasSuffix(r.path, "bulk?upsert=true") {
				body = map[string]any{"entities": []any{map[string]any{"identifier": "e1"}}}
			}
			if strings.Contains(r.path, "/bulk/entities/delete") {
				body = map[string]any{"entities": []any{"e1"}}
			}
			if strings.HasSuffix(r.path, "/entities?upsert=true") {
				body = map[string]any{"identifier": "e1"}
			}
		}
		status, out := h.raw(r.method, r.path, body, nil)
		wantError(t, r.method+" "+r.path, status, out, 404, "not_found")
	}
}

func TestEntityIdentifiers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	h.blueprint(map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{}})
	tests := []struct {
		id   any
		want int
	}{
		{"plain", 201},
		{"with=equals", 201},
		{"a/b:c+d@e_f.g\\h-i", 201},
		{"ünïcødé-שלום", 201},
		{strings.Repeat("x", 1000), 201},
		{strings.Repeat("x", 1001), 422},
		{"with space", 422},
		{"with#hash", 422},
		{".", 422},
		{"..", 422},
		{"", 422},
		{42, 422},
		{nil, 422},
	}
	for _, tt := range tests {
		status, body := h.upsert("svc", "upsert=true", map[string]any{"identifier": tt.id})
		if tt.want == 422 {
			wantError(t, fmt.Sprintf("identifier %q", fmt.Sprint(tt.id)), status, body, 422, "invalid_request")
		} else if status != tt.want {
			t.Errorf("identifier %q = %d %v, want %d", fmt.Sprint(tt.id), status, body, tt.want)
		}
	}
	// The path is routed raw: %2F stays inside the identifier, + stays +.
	got := h.call(200, "GET", "/v1/blueprints/svc/entities/a%2Fb:c+d@e_f.g%5Ch-i", nil)["entity"].(map[string]any)
	if got["identifier"] != "a/b:c+d@e_f.g\\h-i" {
		t.Errorf("entity by escaped path = %v", got["identifier"])
	}
	h.call(200, "DELETE", "/v1/blueprints/svc/entities/a%2Fb:c%2Bd@e_f.g%5Ch-i?delete_dependents=false", nil)
}

func TestPropertySchema(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	h.blueprint(schemaBlueprint())
	tests := []struct {
		name  string
		props map[string]any
		ok    bool
	}{
		{"valid", map[string]any{"name": "abc", "code": "AB", "email": "a.b@example.com", "url": "https://x.io/a", "when": "2026-01-02T03:04:05Z",
			"ip4": "10.0.0.1", "ip6": "::1", "tier": "gold", "age": 40.0, "score": 5.5, "on": true, "meta": map[string]any{"k": 1}, "tags": []any{"a", "b"}}, true},
		{"null for an optional property", map[string]any{"name": nil, "tags": nil}, true},
		{"undeclared property", map[string]any{"department": "hr"}, true},
		{"string given a number", map[string]any{"name": 12.0}, false},
		{"number given a string", map[string]any{"age": "40"}, false},
		{"boolean given a string", map[string]any{"on": "true"}, false},
		{"object given an array", map[string]any{"meta": []any{}}, false},
		{"array given a string", map[string]any{"tags": "a"}, false},
		{"too short", map[string]any{"name": "a"}, false},
		{"too long", map[string]any{"name": "abcdef"}, false},
		{"pattern", map[string]any{"code": "ab"}, false},
		{"email", map[string]any{"email": "not-an-email"}, false},
		{"url", map[string]any{"url": "example.com"}, false},
		{"date-time", map[string]any{"when": "yesterday"}, false},
		{"ipv4", map[string]any{"ip4": "::1"}, false},
		{"ipv6", map[string]any{"ip6": "10.0.0.1"}, false},
		{"enum", map[string]any{"tier": "bronze"}, false},
		{"minimum", map[string]any{"age": -1.0}, false},
		{"maximum", map[string]any{"age": 151.0}, false},
		{"exclusive minimum", map[string]any{"score": 0.0}, false},
		{"exclusive maximum", map[string]any{"score": 10.0}, false},
		{"item type", map[string]any{"tags": []any{1.0}}, false},
		{"min items", map[string]any{"tags": []any{}}, false},
		{"max items", map[string]any{"tags": []any{"a", "b", "c", "d"}}, false},
		{"unique items", map[string]any{"tags": []any{"a", "a"}}, false},
	}
	for i, tt := range tests {
		props := map[string]any{"owner": "me"}
		for k, v := range tt.props {
			props[k] = v
		}
		id := fmt.Sprintf("e%d", i)
		status, body := h.upsert("svc", "upsert=true", map[string]any{"identifier": id, "properties": props})
		if tt.ok {
			if status != 201 {
				t.Errorf("%s = %d %v, want 201", tt.name, status, body)
			}
			continue
		}
		wantError(t, tt.name, status, body, 422, "blueprint_schema_mismatch")
		if h.emu.Entity("svc", id) != nil {
			t.Errorf("%s: the invalid entity was stored", tt.name)
		}
	}
	status, body := h.upsert("svc", "upsert=true", map[string]any{"identifier": "no-owner"})
	wantError(t, "required property missing", status, body, 422, "blueprint_schema_mismatch")
	status, body = h.upsert("svc", "upsert=true", map[string]any{"identifier": "null-owner", "properties": map[string]any{"owner": nil}})
	wantError(t, "required property null", status, body, 422, "blueprint_schema_mismatch")

	e := h.emu.Entity("svc", "e0")["properties"].(map[string]any)
	if e["lang"] != "go" {
		t.Errorf("default not applied on create: %v", e)
	}
	h.call(200, "POST", "/v1/blueprints/svc/entities?upsert=true&merge=true", map[string]any{"identifier": "e0", "properties": map[string]any{"lang": "rust"}})
	h.call(200, "POST", "/v1/blueprints/svc/entities?upsert=true&merge=true", map[string]any{"identifier": "e0", "properties": map[string]any{"comment": "x"}})
	if got := h.emu.Entity("svc", "e0")["properties"].(map[string]any)["lang"]; got != "rust" {
		t.Errorf("default reapplied on update: lang = %v", got)
	}
	for _, tt := range []struct {
		field string
		value any
	}{{"properties", "x"}, {"relations", []any{}}, {"title", 1.0}, {"icon", true}, {"team", 3.0}} {
		status, body := h.upsert("svc", "upsert=true", map[string]any{"identifier": "bad-shape", tt.field: tt.value, "properties": map[string]any{"owner": "me"}})
		if tt.field == "properties" {
			status, body = h.upsert("svc", "upsert=true", map[string]any{"identifier": "bad-shape", "properties": tt.value})
		}
		wantError(t, tt.field+" of the wrong shape", status, body, 422, "invalid_request")
	}
}

func TestUndeclaredProperties(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy     emulator.UndeclaredPolicy
		wantStatus int
		wantStored any
	}{
		{emulator.UndeclaredKeep, 201, "hr"},
		{emulator.UndeclaredDrop, 201, nil},
		{emulator.UndeclaredReject, 422, nil},
	}
	for _, tt := range tests {
		h := newHarness(t, emulator.Config{UndeclaredProperties: tt.policy})
		h.blueprint(map[string]any{"identifier": "person", "title": "P", "schema": map[string]any{"properties": map[string]any{"email": map[string]any{"type": "string"}}}})
		status, body := h.upsert("person", "upsert=true", map[string]any{"identifier": "p1", "properties": map[string]any{"email": "a@b.c", "department": "hr"}})
		if status != tt.wantStatus {
			t.Errorf("policy %d: %d %v, want %d", tt.policy, status, body, tt.wantStatus)
		}
		if tt.wantStatus == 422 {
			wantError(t, "undeclared rejected", status, body, 422, "blueprint_schema_mismatch")
			continue
		}
		if got := h.emu.Entity("person", "p1")["properties"].(map[string]any)["department"]; got != tt.wantStored {
			t.Errorf("policy %d: stored department = %v, want %v", tt.policy, got, tt.wantStored)
		}
	}
}
