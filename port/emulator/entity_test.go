package emulator_test

import (
	"fmt"
	"testing"
	"time"

	"oceand/port/emulator"
)

// relationHarness has blueprints dept, person (dept: required single;
// teams: many) and svc (dept: optional single), with dept d1.
func relationHarness(t *testing.T) *harness {
	h := newHarness(t, emulator.Config{})
	h.blueprint(map[string]any{"identifier": "dept", "title": "D", "schema": map[string]any{"properties": map[string]any{"name": map[string]any{"type": "string"}}}})
	h.blueprint(map[string]any{"identifier": "team", "title": "T", "schema": map[string]any{}})
	h.blueprint(map[string]any{"identifier": "person", "title": "P", "schema": map[string]any{}, "relations": map[string]any{
		"dept":  map[string]any{"target": "dept", "required": true, "many": false},
		"teams": map[string]any{"target": "team", "required": false, "many": true},
	}})
	h.blueprint(map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{}, "relations": map[string]any{
		"dept": map[string]any{"target": "dept", "required": false, "many": false},
	}})
	h.call(201, "POST", "/v1/blueprints/dept/entities?upsert=true", map[string]any{"identifier": "d1", "properties": map[string]any{"name": "one"}})
	h.call(201, "POST", "/v1/blueprints/dept/entities?upsert=true", map[string]any{"identifier": "d2", "properties": map[string]any{"name": "two"}})
	return h
}

func TestRelations(t *testing.T) {
	t.Parallel()
	h := relationHarness(t)
	tests := []struct {
		name       string
		query      string
		rels       any
		wantStatus int
		wantCode   string
	}{
		{"unknown relation", "upsert=true", map[string]any{"dept": "d1", "boss": "x"}, 422, "invalid_request"},
		{"array to a single relation", "upsert=true", map[string]any{"dept": []any{"d1"}}, 422, "relation_many_violation"},
		{"required relation missing", "upsert=true", map[string]any{"teams": []any{}}, 422, "required_relation"},
		{"required relation null", "upsert=true", map[string]any{"dept": nil}, 422, "required_relation"},
		{"missing target", "upsert=true", map[string]any{"dept": "d9"}, 404, "not_found"},
		{"missing target in a many relation", "upsert=true", map[string]any{"dept": "d1", "teams": []any{"t9"}}, 404, "not_found"},
		{"relation value of the wrong shape", "upsert=true", map[string]any{"dept": 3.0}, 422, "invalid_request"},
		{"search relation matching two", "upsert=true", map[string]any{"dept": map[string]any{"combinator": "or", "rules": []any{
			map[string]any{"property": "name", "operator": "=", "value": "one"}, map[string]any{"property": "name", "operator": "=", "value": "two"}}}}, 422, "relation_many_violation"},
		{"search relation matching none", "upsert=true", map[string]any{"dept": map[string]any{"combinator": "and", "rules": []any{
			map[string]any{"property": "name", "operator": "=", "value": "zero"}}}}, 404, "not_found"},
		{"malformed search relation", "upsert=true", map[string]any{"dept": map[string]any{"combinator": "xor", "rules": []any{}}}, 422, "invalid_request"},
	}
	for _, tt := range tests {
		status, body := h.upsert("person", tt.query, map[string]any{"identifier": "p1", "relations": tt.rels})
		wantError(t, tt.name, status, body, tt.wantStatus, tt.wantCode)
	}
	if h.emu.Entity("person", "p1") != nil || h.emu.EntityCount("team") != 0 {
		t.Fatal("a failed write left state behind")
	}

	// create_missing_related_entities creates bare targets, owned by the writer.
	h.call(201, "POST", "/v1/blueprints/person/entities?upsert=true&create_missing_related_entities=true",
		map[string]any{"identifier": "p1", "relations": map[string]any{"dept": "d1", "teams": []any{"t1", "t2"}}})
	if h.emu.EntityCount("team") != 2 || len(h.emu.EntityDatasources("team", "t1")) != 1 {
		t.Errorf("missing targets: %v (datasources %v)", h.emu.Identifiers("team"), h.emu.EntityDatasources("team", "t1"))
	}
	// A string given to a many relation is stored as an array; a search
	// relation is stored resolved.
	p := h.call(200, "POST", "/v1/blueprints/person/entities?upsert=true",
		map[string]any{"identifier": "p1", "relations": map[string]any{"teams": "t1", "dept": map[string]any{"combinator": "and", "rules": []any{
			map[string]any{"property": "name", "operator": "=", "value": "two"}}}}})["entity"].(map[string]any)
	rels := p["relations"].(map[string]any)
	if fmt.Sprint(rels["teams"]) != "[t1]" || rels["dept"] != "d2" {
		t.Errorf("relations = %v", rels)
	}
	// null clears an optional relation.
	h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true", map[string]any{"identifier": "s1", "relations": map[string]any{"dept": "d1"}})
	h.call(200, "POST", "/v1/blueprints/svc/entities?upsert=true&merge=true", map[string]any{"identifier": "s1", "relations": map[string]any{"dept": nil}})
	if got := h.emu.Entity("svc", "s1")["relations"].(map[string]any)["dept"]; got != nil {
		t.Errorf("relation after null = %v", got)
	}
}

func TestUpsertSemantics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	h.blueprint(map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{}})
	first := map[string]any{"identifier": "e1", "title": "One", "icon": "Git", "team": "core", "properties": map[string]any{"a": 1.0, "b": 2.0}}
	created := h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true", first)["entity"].(map[string]any)
	for _, k := range []string{"createdAt", "updatedAt", "createdBy", "updatedBy"} {
		if created[k] == nil {
			t.Errorf("created entity has no %s: %v", k, created)
		}
	}
	if fmt.Sprint(created["team"]) != "[core]" {
		t.Errorf("team = %v, want [core]", created["team"])
	}
	status, body := h.upsert("svc", "upsert=false", first)
	wantError(t, "create existing", status, body, 409, "identifier_taken")
	status, body = h.upsert("svc", "", first)
	wantError(t, "create existing, no upsert", status, body, 409, "identifier_taken")

	h.call(200, "POST", "/v1/blueprints/svc/entities?upsert=true&merge=true", map[string]any{"identifier": "e1", "properties": map[string]any{"b": 3.0}})
	e := h.emu.Entity("svc", "e1")
	if e["title"] != "One" || e["icon"] != "Git" || fmt.Sprint(e["properties"]) != "map[a:1 b:3]" {
		t.Errorf("after merge: %v", e)
	}
	h.call(200, "POST", "/v1/blueprints/svc/entities?upsert=true&merge=false", map[string]any{"identifier": "e1", "properties": map[string]any{"c": 4.0}})
	e = h.emu.Entity("svc", "e1")
	if e["title"] != nil || fmt.Sprint(e["properties"]) != "map[c:4]" || fmt.Sprint(e["team"]) != "[]" {
		t.Errorf("after replace: %v", e)
	}
	// merge is ignored without upsert.
	status, body = h.upsert("svc", "merge=true", map[string]any{"identifier": "e1"})
	wantError(t, "merge without upsert", status, body, 409, "identifier_taken")

	// Idempotent: the same request twice gives the same entity.
	h.clock.Add(time.Second)
	again := h.call(200, "POST", "/v1/blueprints/svc/entities?upsert=true&merge=false", map[string]any{"identifier": "e1", "properties": map[string]any{"c": 4.0}})["entity"].(map[string]any)
	if fmt.Sprint(again["properties"]) != "map[c:4]" || again["createdAt"] != created["createdAt"] || again["updatedAt"] == created["updatedAt"] {
		t.Errorf("second identical upsert = %v", again)
	}

	// validation_only validates and writes nothing.
	h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true&validation_only=true", map[string]any{"identifier": "ghost"})
	if h.emu.Entity("svc", "ghost") != nil {
		t.Error("validation_only wrote the entity")
	}
	status, body = h.upsert("svc", "upsert=true&validation_only=true", map[string]any{"identifier": "bad id"})
	wantError(t, "validation_only of an invalid entity", status, body, 422, "invalid_request")
	// Extra keys (Ocean sends blueprint) and unknown query params are fine.
	h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true&run_id=&ocean_info_event_type=resync&ocean_info_resync_id=r1", map[string]any{"identifier": "e2", "blueprint": "svc", "extra": true})
	status, body = h.upsert("svc", "upsert=true", map[string]any{"identifier": "e3", "blueprint": "other"})
	wantError(t, "entity of another blueprint", status, body, 422, "invalid_request")
}

func TestSearchIdentifier(t *testing.T) {
	t.Parallel()
	h := relationHarness(t)
	byName := func(name string) map[string]any {
		return map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "name", "operator": "=", "value": name}}}
	}
	got := h.call(200, "POST", "/v1/blueprints/dept/entities?upsert=true&merge=true", map[string]any{"identifier": byName("one"), "title": "First"})["entity"].(map[string]any)
	if got["identifier"] != "d1" || h.emu.Entity("dept", "d1")["title"] != "First" {
		t.Errorf("search identifier resolved to %v", got["identifier"])
	}
	status, body := h.upsert("dept", "upsert=true", map[string]any{"identifier": byName("zero")})
	wantError(t, "search identifier matching none", status, body, 404, "not_found")
	if h.emu.EntityCount("dept") != 2 {
		t.Error("a search identifier matching nothing created an entity")
	}
	two := map[string]any{"combinator": "or", "rules": []any{byName("one"), byName("two")}}
	status, body = h.upsert("dept", "upsert=true", map[string]any{"identifier": two})
	wantError(t, "search identifier matching two", status, body, 422, "invalid_request")

	status, bulk := h.raw("POST", "/v1/blueprints/dept/entities/bulk?upsert=true&merge=true", map[string]any{"entities": []any{
		map[string]any{"identifier": byName("two"), "title": "Second"},
		map[string]any{"identifier": byName("zero")},
	}}, nil)
	if status != 207 {
		t.Fatalf("bulk = %d %v", status, bulk)
	}
	okItems, errItems := bulk["entities"].([]any), bulk["errors"].([]any)
	if len(okItems) != 1 || okItems[0].(map[string]any)["identifier"] != "d2" {
		t.Errorf("bulk ok items = %v", okItems)
	}
	if len(errItems) != 1 || errItems[0].(map[string]any)["identifier"] != "unknown" || errItems[0].(map[string]any)["index"] != 1.0 {
		t.Errorf("bulk error items = %v, want identifier unknown at index 1", errItems)
	}
}

func TestBulkUpsert(t *testing.T) {
	t.Parallel()
	h := relationHarness(t)
	entities := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"identifier": fmt.Sprintf("s%d", i)}
		}
		return out
	}
	bad := []struct {
		name string
		body any
	}{
		{"no entities", map[string]any{"entities": []any{}}},
		{"21 entities", map[string]any{"entities": entities(21)}},
		{"extra top-level key", map[string]any{"entities": entities(1), "upsert": true}},
		{"entities not an array", map[string]any{"entities": map[string]any{}}},
		{"a JSON array", []any{}},
	}
	for _, tt := range bad {
		status, body := h.raw("POST", "/v1/blueprints/svc/entities/bulk?upsert=true", tt.body, nil)
		wantError(t, tt.name, status, body, 422, "invalid_request")
	}
	all := h.call(200, "POST", "/v1/blueprints/svc/entities/bulk?upsert=true", map[string]any{"entities": entities(20)})
	if len(all["entities"].([]any)) != 20 || len(all["errors"].([]any)) != 0 {
		t.Errorf("20 valid entities = %v", all)
	}
	again := h.call(200, "POST", "/v1/blueprints/svc/entities/bulk?upsert=true", map[string]any{"entities": entities(1)})
	if again["entities"].([]any)[0].(map[string]any)["created"] != false {
		t.Errorf("second upsert created = %v, want false", again)
	}

	status, mixed := h.raw("POST", "/v1/blueprints/person/entities/bulk?upsert=true", map[string]any{"entities": []any{
		map[string]any{"identifier": "ok", "relations": map[string]any{"dept": "d1"}},
		map[string]any{"identifier": "bad id", "relations": map[string]any{"dept": "d1"}},
		map[string]any{"identifier": "orphan", "relations": map[string]any{"dept": "d9"}},
		map[string]any{"identifier": "loner"},
		"not an object",
		map[string]any{"identifier": "ok", "relations": map[string]any{"dept": "d2"}},
	}}, nil)
	if status != 207 {
		t.Fatalf("mixed bulk = %d %v, want 207", status, mixed)
	}
	want := map[float64][3]any{
		1: {"bad id", 422.0, "invalid_request"},
		2: {"orphan", 404.0, "not_found"},
		3: {"loner", 422.0, "required_relation"},
		4: {"unknown", 422.0, "invalid_request"},
	}
	errItems := mixed["errors"].([]any)
	if len(errItems) != len(want) {
		t.Errorf("errors = %v", errItems)
	}
	for _, it := range errItems {
		e := it.(map[string]any)
		w, ok := want[e["index"].(float64)]
		if !ok || e["identifier"] != w[0] || e["statusCode"] != w[1] || e["error"] != w[2] || e["message"] == "" {
			t.Errorf("error item %v, want %v", e, w)
		}
	}
	okItems := mixed["entities"].([]any)
	if len(okItems) != 2 || okItems[1].(map[string]any)["created"] != false {
		t.Errorf("ok items = %v", okItems)
	}
	if got := h.emu.Entity("person", "ok")["relations"].(map[string]any)["dept"]; got != "d2" {
		t.Errorf("items are not applied in order: dept = %v", got)
	}
	status, body := h.raw("POST", "/v1/blueprints/svc/entities/bulk", map[string]any{"entities": []any{map[string]any{"identifier": "s0"}}}, nil)
	if status != 207 || body["errors"].([]any)[0].(map[string]any)["error"] != "identifier_taken" {
		t.Errorf("bulk without upsert on an existing entity = %d %v", status, body)
	}
}

func TestDeletes(t *testing.T) {
	t.Parallel()
	h := relationHarness(t)
	for _, p := range []string{"p1", "p2"} {
		h.call(201, "POST", "/v1/blueprints/person/entities?upsert=true", map[string]any{"identifier": p, "relations": map[string]any{"dept": "d1"}})
	}
	h.call(201, "POST", "/v1/blueprints/svc/entities?upsert=true", map[string]any{"identifier": "s1", "relations": map[string]any{"dept": "d2"}})

	status, body := h.raw("DELETE", "/v1/blueprints/dept/entities/d1?delete_dependents=false", nil, nil)
	wantError(t, "delete with required dependents", status, body, 403, "has_dependents")
	status, body = h.raw("POST", "/v1/blueprints/dept/bulk/entities/delete?delete_dependents=false", map[string]any{"entities": []any{"d2", "d1"}}, nil)
	wantError(t, "bulk delete with dependents", status, body, 403, "has_dependents")
	if h.emu.EntityCount("dept") != 2 {
		t.Fatal("a refused bulk delete deleted something")
	}
	status, body = h.raw("DELETE", "/v1/blueprints/dept/entities/d9?delete_dependents=false", nil, nil)
	wantError(t, "delete unknown", status, body, 404, "not_found")
	for _, n := range []int{0, 101} {
		ids := make([]any, n)
		for i := range ids {
			ids[i] = fmt.Sprint(i)
		}
		status, body = h.raw("POST", "/v1/blueprints/dept/bulk/entities/delete", map[string]any{"entities": ids}, nil)
		wantError(t, fmt.Sprintf("bulk delete of %d", n), status, body, 422, "invalid_request")
	}

	// A non-required relation does not block; missing ids are not listed.
	out := h.call(200, "POST", "/v1/blueprints/dept/bulk/entities/delete?delete_dependents=false", map[string]any{"entities": []any{"d2", "d9"}})
	if fmt.Sprint(out["deletedEntities"]) != "[d2]" || h.emu.Entity("svc", "s1") == nil {
		t.Errorf("deletedEntities = %v", out["deletedEntities"])
	}
	// Dependents inside the same request do not block it.
	h.call(200, "POST", "/v1/blueprints/person/bulk/entities/delete?delete_dependents=false", map[string]any{"entities": []any{"p2"}})
	h.call(200, "DELETE", "/v1/blueprints/dept/entities/d1?delete_dependents=true", nil)
	if h.emu.EntityCount("person") != 0 || h.emu.EntityCount("dept") != 0 {
		t.Errorf("cascade left persons %v, depts %v", h.emu.Identifiers("person"), h.emu.Identifiers("dept"))
	}
}

func TestDatasourceEntities(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Config{})
	h.blueprint(map[string]any{"identifier": "svc", "title": "S", "schema": map[string]any{}})
	write := func(ua, id string) {
		h.ua = ua
		if status, body := h.upsert("svc", "upsert=true", map[string]any{"identifier": id}); status/100 != 2 {
			t.Fatalf("write %s: %d %v", id, status, body)
		}
	}
	for i := range 5 {
		write("port-ocean/fake/1.0/it/exporter", fmt.Sprintf("mine-%d", i))
	}
	write("port-ocean/fake/1.0/other/exporter", "theirs")
	write("port-k8s-exporter/0.3 (statekey/k)", "k8s")
	h.clock.Add(time.Minute)
	cut := h.clock.Now()
	write("port-ocean/fake/2.0/it/exporter", "late")

	list := func(body map[string]any) ([]string, any) {
		t.Helper()
		out := h.call(200, "POST", "/v1/blueprints/entities/datasource-entities", body)
		var ids []string
		for _, e := range out["entities"].([]any) {
			m := e.(map[string]any)
			if m["blueprint"] != "svc" {
				t.Errorf("entity without its blueprint: %v", m)
			}
			ids = append(ids, m["identifier"].(string))
		}
		return ids, out["next"]
	}
	body := map[string]any{"datasource_prefix": "port-ocean/fake/", "datasource_suffix": "/it/exporter"}
	if ids, next := list(body); len(ids) != 6 || next != nil {
		t.Errorf("all mine = %v next %v", ids, next)
	}
	body["before"] = cut.Format(time.RFC3339Nano)
	body["limit"] = 2
	var all []string
	for pages := 0; pages < 10; pages++ {
		ids, next := list(body)
		all = append(all, ids...)
		if next == nil {
			break
		}
		body["from"] = next
	}
	if fmt.Sprint(all) != "[mine-0 mine-1 mine-2 mine-3 mine-4]" {
		t.Errorf("paged with before = %v", all)
	}
	// The k8s exporter's prefix/suffix.
	if ids, _ := list(map[string]any{"datasource_prefix": "port-k8s-exporter", "datasource_suffix": "(statekey/k)"}); fmt.Sprint(ids) != "[k8s]" {
		t.Errorf("k8s listing = %v", ids)
	}
	// An entity written by two integrations belongs to both.
	write("port-ocean/fake/1.0/other/exporter", "mine-0")
	if ds := h.emu.EntityDatasources("svc", "mine-0"); len(ds) != 2 {
		t.Errorf("datasources = %v", ds)
	}
	for name, b := range map[string]map[string]any{
		"bad before":   {"datasource_prefix": "a", "datasource_suffix": "b", "before": "yesterday"},
		"bad cursor":   {"datasource_prefix": "a", "datasource_suffix": "b", "from": "%%%"},
		"no prefix":    {"datasource_suffix": "b"},
		"limit of 0":   {"datasource_prefix": "a", "datasource_suffix": "b", "limit": 0},
		"limit string": {"datasource_prefix": "a", "datasource_suffix": "b", "limit": "5"},
	} {
		status, out := h.raw("POST", "/v1/blueprints/entities/datasource-entities", b, nil)
		wantError(t, name, status, out, 422, "invalid_request")
	}
}
